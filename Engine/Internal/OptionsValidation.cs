using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;

namespace Engine.Internal;

/// <summary>Checks an options object's declared bounds and turns the first violation into an <see cref="ArgumentException"/> naming the option.</summary>
internal static class OptionsValidation
{
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Options types are preserved by their use.")]
    public static void Validate(object options, string owner, string parameterPrefix)
    {
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            return;
        }

        ValidationResult first = results[0];
        string member = first.MemberNames.FirstOrDefault() ?? "?";
        throw new ArgumentException($"{owner}: {parameterPrefix}.{member} is invalid. {first.ErrorMessage}", $"{parameterPrefix}.{member}");
    }

    /// <summary>An error about the item being written: it names <c>item</c>, the parameter of the public write methods, which is what the caller passed.</summary>
#pragma warning disable CA2208 // The parameter named is the public write method's, not this helper's.
    public static ArgumentException InvalidItem(string message, Exception? inner = null) => new(message, "item", inner);
#pragma warning restore CA2208

    public static ArgumentException Invalid(string owner, string option, string problem) =>
        new($"{owner}: {option} {problem}", option);
}
