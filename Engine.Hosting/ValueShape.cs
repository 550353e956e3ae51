namespace Engine.Hosting;

/// <summary>What an options property is to configuration (see <see cref="ConfigurationShape"/>).</summary>
internal enum ValueShape
{
    /// <summary>One value: text, a number, true or false, a time span, an enum's name.</summary>
    Value,

    /// <summary>A nested options class: a section of its own settings.</summary>
    Section,

    /// <summary>Named entries, each a value or a section (a pipeline's stages).</summary>
    Dictionary,

    /// <summary>An object only code can give (a writer, a logger, a clock): configuration cannot set it.</summary>
    CodeOnly,
}
