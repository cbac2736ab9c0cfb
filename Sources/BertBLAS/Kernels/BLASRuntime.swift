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

    /// The number of threads OpenBLAS uses for one call (`openblas_get_num_threads()`).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets OpenBLAS's thread count: the one place BertBLAS does so.
    ///
    /// OpenBLAS starts with `OPENBLAS_NUM_THREADS` or the number of cores. BertBLAS never runs its
    /// own threads around a multithreaded sgemm (oversubscription makes it slower), so callers that
    /// run several forward passes concurrently should set 1 here.
    /// - Parameter count: threads per sgemm; values below 1 are treated as 1.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Whether the CPU (as the kernel reports in `/proc/cpuinfo`) has AVX-512F, and AVX2 with FMA.
    public static func cpuFeatures() -> (avx512: Bool, avx2: Bool) {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return (false, false) }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        return (flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl"),
                flags.contains("avx2") && flags.contains("fma"))
    }

    /// The core BertBLAS asks for instead of a generic fallback, given the CPU's features.
    ///
    /// Chosen by measurement on an AMD Zen 5 (EPYC) VM with Debian OpenBLAS 0.3.21; see
    /// docs/BENCHMARKS.md. Returns nil when the CPU has neither AVX-512 nor AVX2.
    public static func preferredCore(avx512: Bool, avx2: Bool) -> String? {
        if avx512 { return "SkylakeX" }
        if avx2 { return "Haswell" }
        return nil
    }

    /// What `selectFastCore()` found or did.
    public enum CoreSelection: Sendable, Equatable {
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
    }

    /// Makes an executable run on OpenBLAS's fast kernels without the user setting anything.
    ///
    /// Call it first thing in `main`, before any threads start. When `OPENBLAS_CORETYPE` is unset
    /// (or empty), OpenBLAS reports a generic core (e.g. `Prescott`) and the CPU has AVX-512 or
    /// AVX2, it sets `OPENBLAS_CORETYPE` and re-executes `/proc/self/exe` with the same arguments;
    /// it does not return in that case. The re-exec'd process carries a guard variable so it never
    /// loops. A library user who cannot re-exec should instead set `OPENBLAS_CORETYPE` in the
    /// environment before the process starts.
    /// - Returns: what was found or done (the re-exec'd process gets `.selected`).
    @discardableResult
    public static func selectFastCore() -> CoreSelection {
        let environment = ProcessInfo.processInfo.environment
        if environment[reexecGuardVariable] != nil {
            return .selected(coreName)
        }
        if let user = environment[coreTypeVariable], !user.isEmpty {
            return .userSet(user)
        }
        let current = coreName
        guard genericCores.contains(current) else { return .detected(current) }
        let features = cpuFeatures()
        guard let target = preferredCore(avx512: features.avx512, avx2: features.avx2) else {
            return .generic(current)
        }
        setenv(coreTypeVariable, target, 1)
        setenv(reexecGuardVariable, target, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when execv failed: undo, and continue on the generic core.
        let reason = String(cString: strerror(errno))
        unsetenv(coreTypeVariable)
        unsetenv(reexecGuardVariable)
        return .failed("re-exec with \(coreTypeVariable)=\(target) failed: \(reason)")
    }
}
