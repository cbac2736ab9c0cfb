import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenBLAS runtime: which kernel set (core) it runs, its thread count, and the one-time
/// switch away from a generic fallback core.
///
/// OpenBLAS picks its core when the library loads, from `OPENBLAS_CORETYPE` or from CPUID.
/// Debian's OpenBLAS 0.3.21 does not recognise recent CPUs (e.g. AMD Zen 5) and falls back to
/// `Prescott` (SSE3), 4-6x slower than its AVX-512 kernels. Because the variable is read only at
/// load, the fix for an executable is to re-exec itself once with the variable set:
/// `BLASRuntime.selectFastCore()` does that and is the first thing `bert` and `bench` call.
public enum BLASRuntime {
    /// The environment variable OpenBLAS reads at load to force a core.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set on the re-exec'd process (to the core chosen) so it never re-execs again.
    public static let reexecGuardVariable = "BERTBLAS_OPENBLAS_REEXEC"

    /// Cores OpenBLAS falls back to on an unrecognised x86-64 CPU: none uses AVX2.
    public static let genericCores: Set<String> = [
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Nano", "Barcelona",
        "Opteron", "Opteron_SSE3", "Bobcat", "Katmai", "Coppermine", "Northwood", "Banias",
        "Unknown", "unknown",
    ]

    /// The core OpenBLAS runs on, as `openblas_get_corename()` reports it (e.g. `Haswell`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build configuration string (`openblas_get_config()`).
    public static var configuration: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }

    /// The threads a matrix product and the rest of the forward pass use: BertBLAS's own
    /// (`ComputePool.shared`); OpenBLAS itself runs on one.
    public static var threads: Int { ComputePool.shared.threads }

    /// Sets the compute thread count: the one place BertBLAS does so.
    ///
    /// BertBLAS splits products into panels on its own threads, each panel one single-threaded
    /// `cblas_sgemm`, so OpenBLAS is kept at one thread and never runs under BertBLAS's threads.
    /// It starts with as many threads as cores. Forward passes that run concurrently on several
    /// threads share the pool: while one uses it, the others run on their own thread.
    /// - Parameter count: threads; clamped to 1 … the number of cores.
    public static func setThreads(_ count: Int) {
        singleThreaded()
        ComputePool.shared.setThreads(count)
    }

    /// Puts OpenBLAS on one thread, once, before its first product.
    @inline(__always)
    static func singleThreaded() { _ = openBLASSingleThreaded }

    private static let openBLASSingleThreaded: Void = { openblas_set_num_threads(1) }()

    /// OpenBLAS's own thread count (1 once BertBLAS has run a product).
    public static var openBLASThreads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS on `threads` threads, then back on one: for measuring OpenBLAS's
    /// own threading (`bench encoder`'s sgemm ceiling) and for LAPACK solves that run no
    /// BertBLAS threads around them.
    public static func withOpenBLASThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        singleThreaded()
        openblas_set_num_threads(Int32(max(1, threads)))
        defer { openblas_set_num_threads(1) }
        return try body()
    }

    /// What the CPU offers, as the kernel reports it in `/proc/cpuinfo` (features the OS
    /// cannot save are already cleared there).
    public struct CPUFeatures: Sendable, Equatable {
        /// AVX-512 F, BW and VL (SkylakeX kernels).
        public var avx512: Bool
        /// AVX-512 BF16 as well (Cooperlake kernels).
        public var avx512bf16: Bool
        /// AVX2 with FMA (Haswell kernels).
        public var avx2: Bool

        public init(avx512: Bool, avx512bf16: Bool, avx2: Bool) {
            self.avx512 = avx512
            self.avx512bf16 = avx512bf16
            self.avx2 = avx2
        }

        /// Reads `/proc/cpuinfo`; all false when it cannot be read.
        public static func current() -> CPUFeatures {
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                  let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
            else { return CPUFeatures(avx512: false, avx512bf16: false, avx2: false) }
            let flags = Set(line.split(separator: " ").map(String.init))
            let avx512 = flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"])
            return CPUFeatures(avx512: avx512, avx512bf16: avx512 && flags.contains("avx512_bf16"),
                               avx2: flags.isSuperset(of: ["avx2", "fma"]))
        }
    }

    /// The core BertBLAS asks for instead of a generic fallback, given the CPU's features: the
    /// one OpenBLAS itself would pick for such a CPU.
    ///
    /// Measured on this project's AMD Zen 5 VM with Debian OpenBLAS 0.3.21 (docs/BENCHMARKS.md):
    /// SkylakeX and Cooperlake run sgemm at the same speed (Cooperlake adds only bf16 kernels),
    /// 2-4x Haswell and 4-8x Prescott, and both equal the naive kernel.
    /// - Returns: `Cooperlake`, `SkylakeX`, `Haswell`, or nil when the CPU has no AVX2.
    public static func preferredCore(for features: CPUFeatures) -> String? {
        if features.avx512bf16 { return "Cooperlake" }
        if features.avx512 { return "SkylakeX" }
        if features.avx2 { return "Haswell" }
        return nil
    }

    /// What `selectFastCore()` found or did.
    public enum CoreSelection: Sendable, Equatable, CustomStringConvertible {
        /// The user set `OPENBLAS_CORETYPE`; it is respected as is.
        case userSet(String)
        /// OpenBLAS detected a non-generic core itself.
        case detected(String)
        /// This process is the re-exec'd one, running with the core BertBLAS chose.
        case selected(String)
        /// OpenBLAS fell back to a generic core and the CPU offers nothing faster.
        case generic(String)
        /// The re-exec failed (the process continues on the generic core); the string says why.
        case failed(String)

        public var description: String {
            switch self {
            case .userSet(let core): return "set by \(BLASRuntime.coreTypeVariable)=\(core)"
            case .detected(let core): return "detected by OpenBLAS (\(core))"
            case .selected(let core): return "selected by BertBLAS (\(core)) over a generic fallback"
            case .generic(let core): return "generic (\(core)); the CPU has no AVX2"
            case .failed(let reason): return "generic; \(reason)"
            }
        }
    }

    /// The decision `selectFastCore()` makes, without side effects.
    ///
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - detectedCore: what OpenBLAS reports.
    ///   - features: the CPU's features, evaluated only when the detected core is generic.
    /// - Returns: the selection when nothing is to be done, or the core to re-exec with.
    public static func decide(environment: [String: String], detectedCore: String,
                              features: @autoclosure () -> CPUFeatures) -> Either {
        if environment[reexecGuardVariable] != nil { return .keep(.selected(detectedCore)) }
        if let user = environment[coreTypeVariable], !user.isEmpty { return .keep(.userSet(user)) }
        guard genericCores.contains(detectedCore) else { return .keep(.detected(detectedCore)) }
        // CPUID flags (/proc/cpuinfo) are read only here: when a generic core needs replacing.
        guard let target = preferredCore(for: features()) else { return .keep(.generic(detectedCore)) }
        return .reexec(target)
    }

    /// The outcome of `decide`.
    public enum Either: Sendable, Equatable {
        /// Nothing to do.
        case keep(CoreSelection)
        /// Re-exec with `OPENBLAS_CORETYPE` set to this core.
        case reexec(String)
    }

    /// For tests only: when set, `selectFastCore()` acts as if OpenBLAS had detected this core
    /// (e.g. `Prescott`), so the re-exec path can be exercised on a CPU OpenBLAS recognises.
    public static let simulatedCoreVariable = "BERTBLAS_SIMULATE_OPENBLAS_CORE"

    /// How the current core came about; nil until `selectFastCore()` runs.
    // Written once, by selectFastCore() at the start of main before any other thread exists;
    // only read afterwards.
    nonisolated(unsafe) public private(set) static var selection: CoreSelection?

    /// Makes an executable run on OpenBLAS's fast kernels without the user setting anything.
    ///
    /// Call it first thing in `main`, before any threads start. When `OPENBLAS_CORETYPE` is unset
    /// (or empty), OpenBLAS reports a generic core (e.g. `Prescott`) and the CPU has AVX-512 or
    /// AVX2, it sets `OPENBLAS_CORETYPE` and re-executes `/proc/self/exe` with the same arguments;
    /// it does not return in that case. The re-exec'd process carries a guard variable so it never
    /// loops. A core the user set is always respected. A library user who cannot re-exec should
    /// instead set `OPENBLAS_CORETYPE` in the environment before the process starts.
    /// - Returns: what was found or done (the re-exec'd process gets `.selected`).
    @discardableResult
    public static func selectFastCore() -> CoreSelection {
        let environment = ProcessInfo.processInfo.environment
        let detected = environment[simulatedCoreVariable].flatMap { $0.isEmpty ? nil : $0 } ?? coreName
        let result: CoreSelection
        switch decide(environment: environment, detectedCore: detected, features: .current()) {
        case .keep(let kept):
            result = kept == .selected(detected) ? .selected(coreName) : kept
        case .reexec(let target):
            setenv(coreTypeVariable, target, 1)
            setenv(reexecGuardVariable, target, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // Only reached when execv failed: undo, and continue on the generic core.
            let reason = String(cString: strerror(errno))
            unsetenv(coreTypeVariable)
            unsetenv(reexecGuardVariable)
            result = .failed("re-exec with \(coreTypeVariable)=\(target) failed: \(reason)")
        }
        selection = result
        return result
    }
}
