import Foundation

/// Workspaces kept for reuse, so that a task call with no workspace of its own borrows one
/// instead of allocating a fresh arena per call.
///
/// `Sendable`: any number of threads borrow at once. A borrowed workspace belongs to its borrower
/// until it is given back; the pool never hands the same workspace to two borrowers.
/// Idle workspaces beyond `maxIdle` are freed when given back.
public final class WorkspacePool: @unchecked Sendable {
    /// Makes a workspace of at least the asked capacity (the model's `makeWorkspace`).
    let make: @Sendable (_ maxBatch: Int, _ maxLength: Int) throws -> Workspace
    /// Most idle workspaces kept.
    public let maxIdle: Int
    // `lock` protects `idle`, `created` and `borrowed`, and nothing else.
    private let lock = NSLock()
    private var idle: [Workspace] = []
    private var created = 0
    private var borrowed = 0

    /// - Parameters:
    ///   - maxIdle: most idle workspaces kept (default 4).
    ///   - make: allocates a workspace for `maxBatch` sequences of up to `maxLength` tokens.
    public init(maxIdle: Int = 4, make: @escaping @Sendable (_ maxBatch: Int, _ maxLength: Int) throws -> Workspace) {
        self.maxIdle = max(0, maxIdle)
        self.make = make
    }

    /// Takes an idle workspace that holds `maxBatch` sequences of `maxLength` tokens, or makes one.
    ///
    /// - Throws: `BertError.invalidInput` from making a workspace (sizes out of range, too large).
    public func borrow(maxBatch: Int, maxLength: Int) throws -> Workspace {
        lock.lock()
        if let index = idle.firstIndex(where: { $0.maxBatch >= maxBatch && $0.maxLength >= maxLength }) {
            let workspace = idle.remove(at: index)
            borrowed += 1
            lock.unlock()
            return workspace
        }
        lock.unlock()
        let workspace = try make(maxBatch, maxLength)
        lock.lock()
        created += 1
        borrowed += 1
        lock.unlock()
        return workspace
    }

    /// Gives a borrowed workspace back for reuse.
    public func giveBack(_ workspace: Workspace) {
        lock.lock()
        defer { lock.unlock() }
        borrowed -= 1
        guard maxIdle > 0 else { return }
        if idle.count >= maxIdle {
            // Keep the largest ones: they serve every smaller request.
            guard let smallest = idle.indices.min(by: { idle[$0].capacity < idle[$1].capacity }),
                  idle[smallest].capacity < workspace.capacity else { return }
            idle.remove(at: smallest)
        }
        idle.append(workspace)
    }

    /// Runs `body` with a borrowed workspace and gives it back afterwards, also when `body` throws.
    public func withWorkspace<R>(maxBatch: Int, maxLength: Int, _ body: (Workspace) throws -> R) throws -> R {
        let workspace = try borrow(maxBatch: maxBatch, maxLength: maxLength)
        defer { giveBack(workspace) }
        return try body(workspace)
    }

    /// Counts for tests and metrics: workspaces ever made, currently borrowed, currently idle.
    public var statistics: (created: Int, borrowed: Int, idle: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (created, borrowed, idle.count)
    }
}

extension Workspace {
    /// Floats held, for keeping the largest workspaces idle.
    var capacity: Int { maxTokens }
}
