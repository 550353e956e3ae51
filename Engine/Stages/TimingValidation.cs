using Engine.Dedupe;
using Engine.Internal;

namespace Engine.Stages;

/// <summary>Checks a stage's timing options (delays, rate limit, debounce), each error naming its option.</summary>
internal static class TimingValidation
{
    public static void Validate<T>(StageOptions<T> options, string owner)
    {
        if (options.Delays is { } delays)
        {
            OptionsValidation.Validate(delays, owner, "options.Delays");
        }

        if (options.RateLimit is { } rateLimit)
        {
            OptionsValidation.Validate(rateLimit, owner, "options.RateLimit");
            if ((rateLimit.PerKey is null) == (rateLimit.Limiter is null))
            {
                throw OptionsValidation.Invalid(owner, "options.RateLimit.PerKey", "or options.RateLimit.Limiter must be set, and not both.");
            }
        }

        if (options.Debounce is { } debounce)
        {
            OptionsValidation.Validate(debounce, owner, "options.Debounce");
            if (debounce.MaxWait < debounce.QuietPeriod)
            {
                throw OptionsValidation.Invalid(owner, "options.Debounce.MaxWait", $"({debounce.MaxWait}) may not be below options.Debounce.QuietPeriod ({debounce.QuietPeriod}).");
            }

            if (options.Dedupe is not { Mode: DedupeMode.Replace })
            {
                throw OptionsValidation.Invalid(owner, "options.Debounce", "needs options.Dedupe in Replace mode: a debounce works per dedupe key.");
            }
        }
    }
}
