using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Engine.Hosting;

/// <summary>
/// Checks a configuration section against the options type it binds to, before it is bound: every key
/// must name a settable property (case-insensitively, as the binder matches), and every value must
/// convert to its property's type, enums by a defined name. The binder itself would throw at the first
/// bad value, skip an unknown key without a word, and drop a whole dictionary entry (a pipeline's stage)
/// whose value fails to convert (it swallows that error), so a mistake there would go unnoticed; here
/// each one becomes a failure naming its full key.
/// </summary>
internal static class ConfigurationShape
{
    /// <summary>Adds a failure for every key of <paramref name="section"/> that <paramref name="type"/> cannot take.</summary>
    public static void Check(IConfigurationSection section, Type type, List<string> failures)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            PropertyInfo? property = Find(type, child.Key);
            if (property is null)
            {
                failures.Add($"{child.Path}: unknown setting; {type.Name} has {string.Join(", ", Settable(type).Select(p => p.Name))}.");
                continue;
            }

            CheckValue(child, property.PropertyType, failures);
        }
    }

    /// <summary>The properties configuration can set: public, with a public setter, or a dictionary the binder fills.</summary>
    public static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (p.SetMethod is { IsPublic: true } || DictionaryValueType(p.PropertyType) is not null));

    /// <summary>What a property's type is to configuration.</summary>
    public static ValueShape ShapeOf(Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string) || t == typeof(bool) || t == typeof(int) || t == typeof(long) || t == typeof(double) || t == typeof(TimeSpan) || t.IsEnum)
        {
            return ValueShape.Value;
        }

        if (DictionaryValueType(t) is not null)
        {
            return ValueShape.Dictionary;
        }

        // Options classes of the engine nest (Engine:Reporting:Console); anything else (a TextWriter, an
        // ILogger, a TimeProvider) is an object only code can give.
        return t.IsClass && t.Namespace?.StartsWith("Engine", StringComparison.Ordinal) == true && t.GetConstructor(Type.EmptyTypes) is not null
            ? ValueShape.Section
            : ValueShape.CodeOnly;
    }

    /// <summary>How a wrong value is described: "a whole number", "true or false", ...</summary>
    public static string Describe(Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(bool) ? "true or false"
            : t == typeof(int) || t == typeof(long) ? "a whole number"
            : t == typeof(double) ? "a number"
            : t == typeof(TimeSpan) ? "a time span such as 00:00:30 (hh:mm:ss) or 1.00:00:00 (d.hh:mm:ss)"
            : t.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(t))}"
            : "text";
    }

    private static void CheckValue(IConfigurationSection section, Type type, List<string> failures)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        bool hasChildren = section.GetChildren().Any();
        switch (ShapeOf(type))
        {
            case ValueShape.Value:
                if (hasChildren)
                {
                    failures.Add($"{section.Path}: expects a single value ({Describe(t)}), not a section.");
                }
                else if (section.Value is { } value && !Converts(value, t, nullable: t != type))
                {
                    failures.Add(t.IsEnum
                        ? $"{section.Path}: '{value}' is not a {t.Name}; the allowed values are {string.Join(", ", Enum.GetNames(t))}."
                        : $"{section.Path}: '{value}' is not {Describe(t)}.");
                }

                break;
            case ValueShape.Section:
                if (!string.IsNullOrEmpty(section.Value))
                {
                    failures.Add($"{section.Path}: expects a section with the settings {string.Join(", ", Settable(t).Select(p => p.Name))}, not the value '{section.Value}'.");
                }

                Check(section, t, failures);
                break;
            case ValueShape.Dictionary:
                if (!string.IsNullOrEmpty(section.Value))
                {
                    failures.Add($"{section.Path}: expects a section of named entries, not the value '{section.Value}'.");
                }

                foreach (IConfigurationSection entry in section.GetChildren())
                {
                    CheckValue(entry, DictionaryValueType(t)!, failures);
                }

                break;
            default:
                failures.Add($"{section.Path}: cannot be set from configuration (a {t.Name} is given in code).");
                break;
        }
    }

    /// <summary>Whether the binder would take <paramref name="value"/> for a <paramref name="type"/> (its converter, the same culture); enums only by a defined value.</summary>
    private static bool Converts(string value, Type type, bool nullable)
    {
        if (type == typeof(string) || (nullable && value.Length == 0))
        {
            return true;
        }

        if (type.IsEnum)
        {
            return Enum.TryParse(type, value, ignoreCase: true, out object? parsed) && Enum.IsDefined(type, parsed!);
        }

        try
        {
            return TypeDescriptor.GetConverter(type).ConvertFromString(null, CultureInfo.InvariantCulture, value) is not null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    private static PropertyInfo? Find(Type type, string key) =>
        Settable(type).FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase));

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;
}
