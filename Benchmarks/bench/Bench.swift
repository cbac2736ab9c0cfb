import ArgumentParser
import BertBLAS

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "BertBLAS throughput benchmarks. Run in release: swift run -c release bench <name>.",
        subcommands: [
            // Benchmarks. Keep one per line.
            TokenizerBench.self,
            GemmBench.self,
            SplitBench.self,
            KernelBench.self,
            BlasInfo.self,
            EncoderBench.self,
            PretrainDataBench.self,
            FinetuneBench.self,
        ]
    )

    /// Switches OpenBLAS away from a generic fallback core (re-exec) before anything else runs.
    static func main() {
        BLASRuntime.selectFastCore()
        main(nil)
    }
}
