import Foundation

/// Whether the standard streams are terminals (tables and progress bars are for people).
enum Terminal {
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }
}

/// A one-line progress indicator on stderr: a bar with percent, rate and ETA when the total is
/// known, a running count and rate when it is not.
///
/// It draws nothing for the first second (short jobs stay quiet), then at most five times a
/// second, and only when enabled (by default: when stderr is a terminal).
final class ProgressBar {
    /// What is being done; a caller may update it between draws (e.g. with a running loss).
    var label: String
    private let unit: String
    private var total: Int?
    private let enabled: Bool
    private let start = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var drawn = false

    /// - Parameters:
    ///   - label: what is being done ("tokenizing"); may be empty.
    ///   - unit: what is counted ("lines", "files").
    ///   - total: the number of units, when known.
    ///   - enabled: draw at all (default: stderr is a terminal).
    init(label: String = "", unit: String, total: Int? = nil, enabled: Bool = Terminal.stderrIsTTY) {
        self.label = label
        self.unit = unit
        self.total = total
        self.enabled = enabled
    }

    /// Reports `done` units out of `total` (for library callbacks that pass both).
    func update(_ done: Int, _ total: Int) {
        self.total = total
        update(done)
    }

    /// Reports `done` units so far.
    func update(_ done: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let elapsed = Self.seconds(now - start)
        let finished = total.map { done >= $0 } ?? false
        guard elapsed > 1 else { return }
        if let lastDraw, !finished, Self.seconds(now - lastDraw) < 0.2 { return }
        lastDraw = now
        let rate = Double(done) / max(elapsed, 1e-9)
        let prefix = label.isEmpty ? "" : "\(label) "
        var line: String
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let eta = rate > 0 ? Double(max(0, total - done)) / rate : 0
            line = String(format: "%@[%@] %3d%% %d/%d %@  %.1f/s  ETA %@", prefix, bar, Int(fraction * 100),
                          done, total, unit, rate, Self.clock(eta))
        } else {
            line = String(format: "%@%d %@  %.1f/s", prefix, done, unit, rate)
        }
        FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8))
        drawn = true
    }

    /// Clears the line (call once the work is done).
    func finish() {
        guard drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drawn = false
    }

    private static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
            : String(format: "%d:%02d", t / 60, t % 60)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
