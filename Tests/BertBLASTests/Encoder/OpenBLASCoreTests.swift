import Foundation
import Testing
@testable import BertBLAS

/// The OpenBLAS core selection: a generic fallback core is replaced (by re-exec) on a CPU with
/// AVX-512/AVX2, a user's OPENBLAS_CORETYPE is respected, and results equal the naive kernel.
@Suite struct OpenBLASCoreTests {
    /// Runs a built product with `set` added to and `unset` removed from the environment.
    static func run(_ executable: String, _ arguments: [String], set: [String: String] = [:],
                    unset: [String] = [], stdin: String = "") throws -> CLIResult {
        try CLI.run(executable, arguments, stdin: stdin, environment: set, unsetting: unset)
    }

    static func blasInfo(set: [String: String] = [:], unset: [String] = []) throws -> [String: Any] {
        let result = try run("bench", ["blas"], set: set, unset: unset)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    static let features = BLASRuntime.CPUFeatures.current()

    @Test func decisionRules() {
        let avx512 = BLASRuntime.CPUFeatures(avx512: true, avx512bf16: false, avx2: true)
        let bf16 = BLASRuntime.CPUFeatures(avx512: true, avx512bf16: true, avx2: true)
        let avx2 = BLASRuntime.CPUFeatures(avx512: false, avx512bf16: false, avx2: true)
        let sse = BLASRuntime.CPUFeatures(avx512: false, avx512bf16: false, avx2: false)
        #expect(BLASRuntime.decide(environment: [:], detectedCore: "Prescott", features: bf16) == .reexec("Cooperlake"))
        #expect(BLASRuntime.decide(environment: [:], detectedCore: "Prescott", features: avx512) == .reexec("SkylakeX"))
        #expect(BLASRuntime.decide(environment: [:], detectedCore: "Core2", features: avx2) == .reexec("Haswell"))
        #expect(BLASRuntime.decide(environment: [:], detectedCore: "Prescott", features: sse) == .keep(.generic("Prescott")))
        #expect(BLASRuntime.decide(environment: [:], detectedCore: "Zen", features: avx2) == .keep(.detected("Zen")))
        #expect(BLASRuntime.decide(environment: ["OPENBLAS_CORETYPE": "Prescott"], detectedCore: "Prescott", features: bf16)
                == .keep(.userSet("Prescott")))
        #expect(BLASRuntime.decide(environment: ["OPENBLAS_CORETYPE": ""], detectedCore: "Prescott", features: bf16) == .reexec("Cooperlake"))
        #expect(BLASRuntime.decide(environment: [BLASRuntime.reexecGuardVariable: "SkylakeX"], detectedCore: "Prescott", features: bf16)
                == .keep(.selected("Prescott")))
    }

    @Test(.enabled(if: features.avx2, "needs a CPU with AVX2"))
    func genericCoreIsReplacedByReexec() throws {
        let info = try Self.blasInfo(set: [BLASRuntime.simulatedCoreVariable: "Prescott"],
                                     unset: [BLASRuntime.coreTypeVariable, "OPENBLAS_L2_SIZE"])
        let expected = try #require(BLASRuntime.preferredCore(for: Self.features))
        #expect(info["blas_core"] as? String == expected)
        #expect((info["selection"] as? String)?.contains("selected by BertBLAS") == true)
        #expect(info["openblas_coretype"] as? String == expected)
    }

    @Test func userCoreIsRespected() throws {
        let info = try Self.blasInfo(set: [BLASRuntime.coreTypeVariable: "Prescott", BLASRuntime.simulatedCoreVariable: "Prescott"])
        #expect(info["blas_core"] as? String == "Prescott")
        #expect((info["selection"] as? String)?.contains("set by OPENBLAS_CORETYPE") == true)
    }

    /// `bert embed` after the re-exec onto the fast core equals the naive kernel.
    @Test(.enabled(if: features.avx2, "needs a CPU with AVX2"))
    func fastCoreEqualsNaiveKernel() throws {
        let folder = Paths.golden("encoder/tiny-gelu_new-cased")
        let text = "The film was good.\nA long, boring story about a bank manager in the old city!\nTokyo\n"
        let env = [BLASRuntime.simulatedCoreVariable: "Prescott"]
        let unset = [BLASRuntime.coreTypeVariable, "OPENBLAS_L2_SIZE"]
        let blas = try Self.run("bert", ["embed", "--model", folder.path, "--kernel", "blas", "--verbose"], set: env, unset: unset, stdin: text)
        let naive = try Self.run("bert", ["embed", "--model", folder.path, "--kernel", "naive"], set: env, unset: unset, stdin: text)
        #expect(blas.status == 0 && naive.status == 0)
        #expect(blas.stderr.contains("selected by BertBLAS"), "\(blas.stderr)")
        let a = try blas.jsonLines(), b = try naive.jsonLines()
        try #require(a.count == 3 && b.count == 3)
        for (x, y) in zip(a, b) {
            let u = try #require((x as? [String: Any])?["embedding"] as? [NSNumber]).map(\.floatValue)
            let v = try #require((y as? [String: Any])?["embedding"] as? [NSNumber]).map(\.floatValue)
            #expect(u.count == 32 && zip(u, v).map { abs($0 - $1) }.max() ?? 1 <= 1e-4)
        }
    }

    @Test func gemmBenchReportsCoreAndShapes() throws {
        let result = try Self.run("bench", ["gemm", "--json", "--m", "128", "--naive-rows", "4", "--seconds", "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        // The child runs on this process's core, or on the one it re-execs onto from a generic one.
        let expectedCore: String
        switch BLASRuntime.decide(environment: ProcessInfo.processInfo.environment,
                                  detectedCore: BLASRuntime.coreName, features: Self.features) {
        case .reexec(let target): expectedCore = target
        case .keep: expectedCore = BLASRuntime.coreName
        }
        #expect(object["blas_core"] as? String == expectedCore)
        #expect((object["threads"] as? Int ?? 0) >= 1)
        let shapes = try #require(object["shapes"] as? [[String: Any]])
        #expect(shapes.map { "\($0["n"] ?? 0)x\($0["k"] ?? 0)" } == ["384x384", "1536x384", "384x1536", "768x768", "3072x768", "768x3072"])
        for shape in shapes {
            #expect((shape["max_abs_diff"] as? Double ?? 1) <= 1e-3)
            for key in ["m", "naive_gflops", "blas_gflops", "speedup"] { #expect(shape[key] != nil) }
        }
    }
}
