namespace Engine.Nats.Tests.Support;

/// <summary>Programs of the solution that the tests run as child processes.</summary>
internal static class SiblingBuild
{
    /// <summary>
    /// Where <paramref name="project"/>'s build output is: built by the tests' project reference, in
    /// the tests' own configuration. Fails the test, naming the path, when it is not there.
    /// </summary>
    public static string Dll(string project)
    {
        string here = AppContext.BaseDirectory;
        string configuration = new DirectoryInfo(here).Parent!.Name;
        string root = Path.GetFullPath(Path.Combine(here, "..", "..", "..", ".."));
        string dll = Path.Combine(root, project, "bin", configuration, "net10.0", project + ".dll");
        Assert.That(File.Exists(dll), Is.True, $"{project} is built: {dll}");
        return dll;
    }
}
