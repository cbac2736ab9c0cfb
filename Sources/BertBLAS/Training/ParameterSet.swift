#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The trainable parameters of a model and their gradients: two arenas of the same layout, one
/// slice per HF tensor.
///
/// Inference reads weights in place from the mapped checkpoint; training must write them, so
/// they are copied here once. Every block of `Training/` refers to its tensors by `Parameter`
/// (an offset), so one `ParameterSet` is the whole mutable state an optimizer touches.
/// A parameter set belongs to one trainer at a time (it is not `Sendable`).
public final class ParameterSet {
    /// One tensor's slice of the arenas.
    public struct Parameter: Sendable, Hashable {
        /// First element in `values` and `gradients`.
        public let offset: Int
        /// Number of elements.
        public let count: Int
    }

    /// A parameter's name and shape, and how the optimizer treats it.
    public struct Entry: Sendable {
        /// The HF name (`bert.encoder.layer.0.attention.self.query.weight`), as
        /// `BertForSequenceClassification` saves it.
        public let name: String
        /// Row-major shape.
        public let shape: [Int]
        public let parameter: Parameter
        /// Whether AdamW's weight decay applies: false for biases and LayerNorm weights (HF
        /// Trainer's `get_decay_parameter_names`).
        public let decays: Bool
    }

    /// Every parameter, in the order they were added.
    public private(set) var entries: [Entry]
    /// All values, `count` floats.
    public let values: UnsafeMutableBufferPointer<Float>
    /// All gradients, the same layout as `values`.
    public let gradients: UnsafeMutableBufferPointer<Float>
    /// Total number of floats.
    public var count: Int { values.count }

    private let valueBase: UnsafeMutablePointer<Float>
    private let gradientBase: UnsafeMutablePointer<Float>

    /// The rows of one `[rows, width]` parameter (the word embeddings, whose gradient a batch
    /// writes in a few hundred of its ~30,000 rows) written since the gradients were last
    /// zeroed, so that zeroing, the gradient norm and AdamW can skip the others.
    ///
    /// Rows are recorded by `rowGradient(_:row:)`; any other access to that parameter's gradient
    /// (`gradient(_:)`: a decoder tied to the word embeddings, a test reading it) marks the
    /// whole parameter written (`dense`) until the next zeroing. Nil when no parameter is tracked.
    struct RowTracking {
        let parameter: Parameter
        let width: Int
        /// The rows written since the last zeroing, each once, in the order first written.
        var rows: [Int32] = []
        /// `written[r]`: row r is in `rows`.
        var written: [Bool]
        /// The whole parameter may have been written since the last zeroing.
        var dense = false

        /// Records row `row` as written.
        @inline(__always) mutating func record(_ row: Int) {
            guard !dense, !written[row] else { return }
            written[row] = true
            rows.append(Int32(row))
        }

        /// Forgets every row (the gradient is 0 again).
        mutating func clear() {
            if dense {
                written.withUnsafeMutableBufferPointer { $0.update(repeating: false) }
            } else {
                for r in rows { written[Int(r)] = false }
            }
            rows.removeAll(keepingCapacity: true)
            dense = false
        }
    }
    private(set) var tracking: RowTracking?

    private init(entries: [Entry], count: Int, values: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                 tracked: (Parameter, width: Int)?) {
        self.entries = entries
        valueBase = values
        gradientBase = gradients
        self.values = UnsafeMutableBufferPointer(start: values, count: count)
        self.gradients = UnsafeMutableBufferPointer(start: gradients, count: count)
        if let (parameter, width) = tracked, width > 0, parameter.count % width == 0 {
            tracking = RowTracking(parameter: parameter, width: width,
                                   written: Array(repeating: false, count: parameter.count / width))
            tracking?.rows.reserveCapacity(4096)
        }
    }

    deinit {
        free(valueBase)
        free(gradientBase)
    }

    @inline(__always) func value(_ p: Parameter) -> UnsafeMutablePointer<Float> { valueBase + p.offset }
    /// The gradient of `p`; for the row-tracked parameter this marks all its rows written.
    @inline(__always) func gradient(_ p: Parameter) -> UnsafeMutablePointer<Float> {
        if p == tracking?.parameter, tracking?.dense == false { tracking?.dense = true }
        return gradientBase + p.offset
    }

    /// Row `row` of the row-tracked parameter `p`'s gradient (`width` floats), recorded as
    /// written; for any other parameter, `gradient(p) + row · width`.
    @inline(__always) func rowGradient(_ p: Parameter, row: Int, width: Int) -> UnsafeMutablePointer<Float> {
        if p == tracking?.parameter { tracking?.record(row) }
        return gradientBase + p.offset + row * width
    }

    /// The entry named `name`, or nil.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The values of one parameter.
    public func values(of entry: Entry) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: value(entry.parameter), count: entry.parameter.count)
    }

    /// The gradient of one parameter.
    public func gradients(of entry: Entry) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: gradient(entry.parameter), count: entry.parameter.count)
    }

    /// Sets every gradient to 0 (before accumulating a batch's), on the compute threads. Of the
    /// row-tracked parameter only the rows written since the last zeroing are set (the others
    /// are 0 already), unless it was written whole.
    public func zeroGradients() {
        let base = gradientBase, total = count
        guard let parameter = tracking?.parameter, let width = tracking?.width, tracking?.dense == false else {
            ComputePool.shared.parallelFor(Self.chunkCount(total)) { c in
                let (start, count) = Self.chunk(c, of: total)
                (base + start).update(repeating: 0, count: count)
            }
            tracking?.clear()
            return
        }
        // The arena outside the tracked parameter, in chunks, then the written rows.
        let skipStart = parameter.offset, skipEnd = skipStart + parameter.count
        let rowsPerTask = max(1, Self.chunkSize / width)
        let chunks = Self.chunkCount(total), rowTasks = ((tracking?.rows.count ?? 0) + rowsPerTask - 1) / rowsPerTask
        tracking?.rows.withUnsafeBufferPointer { rows in
            ComputePool.shared.parallelFor(chunks + rowTasks) { task in
                if task < chunks {
                    let (start, count) = Self.chunk(task, of: total)
                    let end = start + count
                    if start < skipStart { (base + start).update(repeating: 0, count: min(end, skipStart) - start) }
                    if end > skipEnd { let from = max(start, skipEnd); (base + from).update(repeating: 0, count: end - from) }
                } else {
                    let first = (task - chunks) * rowsPerTask
                    for r in first..<min(first + rowsPerTask, rows.count) {
                        (base + skipStart + Int(rows[r]) * width).update(repeating: 0, count: width)
                    }
                }
            }
        }
        tracking?.clear()
    }

    /// Calls `body` with the row-tracked parameter, its width and the rows written since the last
    /// zeroing in ascending order; with nil when no parameter is tracked or it was written whole.
    func withSortedWrittenRows<R>(_ body: ((parameter: Parameter, width: Int, rows: UnsafeBufferPointer<Int32>)?) -> R) -> R {
        guard let parameter = tracking?.parameter, let width = tracking?.width, tracking?.dense == false else { return body(nil) }
        tracking?.rows.sort()
        return tracking?.rows.withUnsafeBufferPointer { body((parameter, width, $0)) } ?? body(nil)
    }

    /// Elements per task of the whole-arena passes (zeroing, clipping, AdamW): 256 KiB of
    /// floats, a few hundred tasks for a small BERT.
    static let chunkSize = 1 << 16

    /// Tasks of `chunkSize` elements over `total` elements.
    static func chunkCount(_ total: Int) -> Int { (total + chunkSize - 1) / chunkSize }

    /// Task `c`'s first element and count.
    static func chunk(_ c: Int, of total: Int) -> (start: Int, count: Int) {
        let start = c * chunkSize
        return (start, min(chunkSize, total - start))
    }

    /// Collects the parameters of a model, then allocates both arenas at once.
    struct Builder {
        private(set) var entries: [Entry] = []
        private var sources: [(UnsafePointer<Float>?, Int)] = []
        /// Values computed rather than read (a new head's initialization), by entry index.
        private var computed: [Int: [Float]] = [:]
        private var total = 0
        private var tracked: (Parameter, width: Int)?

        /// Tracks the rows of `parameter` (`[rows, width]`) that a step writes
        /// (`ParameterSet.RowTracking`); one parameter per set, the last one asked for.
        mutating func trackRows(of parameter: Parameter, width: Int) { tracked = (parameter, width) }

        /// Adds a tensor copied from `source` (a checkpoint tensor), or zero-filled when nil.
        ///
        /// - Throws: `BertError.invalidInput` when the total overflows `Int`.
        mutating func add(_ name: String, shape: [Int], source: UnsafePointer<Float>?, decays: Bool) throws -> Parameter {
            var count = 1
            for d in shape {
                let (r, o) = count.multipliedReportingOverflow(by: d)
                guard !o, d >= 0 else { throw BertError(.invalidInput, "parameter \(name): shape \(shape) is too large") }
                count = r
            }
            let (end, o) = total.addingReportingOverflow(count)
            guard !o else { throw BertError(.invalidInput, "parameter \(name): the parameters overflow the address space") }
            let parameter = Parameter(offset: total, count: count)
            entries.append(Entry(name: name, shape: shape, parameter: parameter, decays: decays))
            sources.append((source, count))
            total = end
            return parameter
        }

        /// Adds a tensor with computed initial values (`values.count` must match the shape).
        mutating func add(_ name: String, shape: [Int], values: [Float], decays: Bool) throws -> Parameter {
            let parameter = try add(name, shape: shape, source: nil, decays: decays)
            guard values.count == parameter.count else {
                throw BertError(.shape, "parameter \(name): \(values.count) initial values for shape \(shape)")
            }
            computed[entries.count - 1] = values
            return parameter
        }

        /// Adds a checkpoint tensor under its canonical HF name.
        mutating func add(_ tensor: Tensor, name: String, decays: Bool) throws -> Parameter {
            try add(name, shape: tensor.shape, source: tensor.pointer, decays: decays)
        }

        /// Allocates the arenas and copies every source in.
        ///
        /// - Throws: `BertError.invalidInput` when the memory cannot be allocated.
        func build() throws -> ParameterSet {
            let bytes = total.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
            guard !bytes.overflow, let values = malloc(max(bytes.partialValue, 4)),
                  let gradients = malloc(max(bytes.partialValue, 4)) else {
                throw BertError(.invalidInput, "cannot allocate \(total) parameters and their gradients")
            }
            let v = values.bindMemory(to: Float.self, capacity: max(total, 1))
            let g = gradients.bindMemory(to: Float.self, capacity: max(total, 1))
            g.initialize(repeating: 0, count: total)
            var offset = 0
            for (index, (source, count)) in sources.enumerated() {
                if let values = computed[index] {
                    (v + offset).initialize(from: values, count: count)
                } else if let source {
                    (v + offset).initialize(from: source, count: count)
                } else {
                    (v + offset).initialize(repeating: 0, count: count)
                }
                offset += count
            }
            return ParameterSet(entries: entries, count: total, values: v, gradients: g, tracked: tracked)
        }
    }
}
