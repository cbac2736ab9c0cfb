import ArgumentParser
import BertBLAS
import Foundation

/// `bench blas`: which OpenBLAS core and thread count this process runs with, and why.
struct BlasInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "Print the OpenBLAS core, thread count and how the core was chosen, as JSON.",
        discussion: """
            Output: {"blas_core", "threads", "selection", "openblas_coretype", "cpu": {"avx512", \
            "avx512_bf16", "avx2"}}. "selection" is how the core came about: set by the user \
            (OPENBLAS_CORETYPE), detected by OpenBLAS, or selected by BertBLAS (re-exec) over a \
            generic fallback such as Prescott.
            """)

    func run() throws {
        let cpu = BLASRuntime.CPUFeatures.current()
        let object: [String: Any] = [
            "blas_core": BLASRuntime.coreName,
            "threads": BLASRuntime.threads,
            "selection": BLASRuntime.selection.map { "\($0)" } ?? "none",
            "openblas_coretype": ProcessInfo.processInfo.environment[BLASRuntime.coreTypeVariable] ?? NSNull(),
            "cpu": ["avx512": cpu.avx512, "avx512_bf16": cpu.avx512bf16, "avx2": cpu.avx2],
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
