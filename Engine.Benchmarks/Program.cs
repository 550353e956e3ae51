using BenchmarkDotNet.Running;
using Engine.Benchmarks;

// Runs the benchmarks chosen with BenchmarkDotNet's switches, for example:
//   dotnet run -c Release --project Engine.Benchmarks -- --filter '*HandOff*'
// or CPU time per item over many fresh processes (see CpuPerItem):
//   dotnet Engine.Benchmarks/bin/Release/net10.0/Engine.Benchmarks.dll --cpu-per-item compare 10 KeyedShardingBenchmarks 1000000 Engine EngineRuntimeQueue TplDataflow
if (args is ["--cpu-per-item", .. var rest])
{
    return CpuPerItem.Run(rest);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
