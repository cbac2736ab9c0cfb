import Foundation
import Synchronization

/// How the encoder cuts its dense products (QKV, attention output, intermediate, output) over
/// the compute threads; set once per process with `BLASRuntime.setProductSplit`.
///
/// By default every product is a set of single-threaded `cblas_sgemm` calls on BertBLAS's own
/// threads (`ComputePool`), claimed dynamically, so a thread descheduled by another process holds
/// up only its own piece: many tokens run in row panels (each panel runs everything after
/// attention while it stays in cache), few tokens in column blocks of each product (each weight
/// packed once in all, not once per thin panel). `bench split` times each cut on single products,
/// `bench encoder --sweep` on whole forward passes (docs/BENCHMARKS.md has the figures).
public struct ProductSplit: Sendable, Equatable, CustomStringConvertible {
    /// From this many tokens per thread on, the products run in row panels; below, in column
    /// blocks. Default 256.
    public var rowPanelTokensPerThread: Int
    /// Rows per panel, clamped to 8 … 512 and rounded down to a multiple of 8; nil (default):
    /// about four panels per thread, between 128 and 512 rows.
    public var panelRows: Int?
    /// Column blocks per thread of each product below `rowPanelTokensPerThread`. Default 2.
    public var columnBlocksPerThread: Int
    /// One `cblas_sgemm` per product on OpenBLAS's own threads instead (called from the pass's
    /// thread while BertBLAS's threads wait; the element-wise steps still run on BertBLAS's
    /// threads). Default false: measured slower for one sequence, and much slower when another
    /// process is busy on a core (OpenBLAS splits statically). For benchmarks in a process that
    /// runs one forward pass at a time: a pass running at the same time on another thread would
    /// see OpenBLAS's threads too.
    public var openBLASThreads: Bool

    /// - Parameters: see the properties; the defaults are the measured ones.
    public init(rowPanelTokensPerThread: Int = 256, panelRows: Int? = nil, columnBlocksPerThread: Int = 2,
                openBLASThreads: Bool = false) {
        self.rowPanelTokensPerThread = max(0, rowPanelTokensPerThread)
        self.panelRows = panelRows.map { min(Workspace.panelRowLimit, max(8, $0 & ~7)) }
        self.columnBlocksPerThread = max(1, columnBlocksPerThread)
        self.openBLASThreads = openBLASThreads
    }

    /// Rows per panel for a pass of `tokens` tokens on `threads` threads when it runs in row
    /// panels: `panelRows`, or the automatic choice.
    public func rowsPerPanel(tokens: Int, threads: Int) -> Int {
        panelRows ?? EncoderLayer.panelRows(tokens: tokens, threads: max(1, threads))
    }

    /// The defaults, chosen by measurement.
    public static let measured = ProductSplit()

    public var description: String {
        if openBLASThreads { return "openblas" }
        return "cols \(columnBlocksPerThread)/thread below \(rowPanelTokensPerThread) tokens/thread, rows \(panelRows.map(String.init) ?? "auto")"
    }
}

extension BLASRuntime {
    /// The split the encoder uses (`setProductSplit`). Starts at `ProductSplit.measured`, or with
    /// row panels of `BERTBLAS_PANEL_ROWS` rows for any number of tokens when that is set.
    public static var productSplit: ProductSplit { splitState.withLock { $0 } }

    /// Sets how the encoder cuts its products, for every forward pass that starts afterwards.
    public static func setProductSplit(_ split: ProductSplit) {
        splitState.withLock { $0 = split }
    }

    private static let splitState = Mutex<ProductSplit>(initialSplit)

    private static var initialSplit: ProductSplit {
        let environment = ProcessInfo.processInfo.environment
        if let rows = environment["BERTBLAS_PANEL_ROWS"].flatMap({ Int($0) }), rows > 0 {
            return ProductSplit(rowPanelTokensPerThread: 0, panelRows: rows)
        }
        return .measured
    }
}
