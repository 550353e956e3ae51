using BenchmarkDotNet.Running;

// Runs the benchmarks chosen with BenchmarkDotNet's switches, for example:
//   dotnet run -c Release --project Engine.Benchmarks -- --filter '*HandOff*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
