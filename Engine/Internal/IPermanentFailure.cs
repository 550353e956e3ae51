namespace Engine.Internal;

/// <summary>
/// Marks an exception that must not be retried whatever the stage's <c>IsTransient</c> says, because
/// a retry would repeat an effect that already happened (see <see cref="Pipelines.ForwardException"/>).
/// </summary>
internal interface IPermanentFailure
{
}
