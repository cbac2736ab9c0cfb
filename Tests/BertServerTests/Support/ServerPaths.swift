import Foundation

/// Where the server tests find models, goldens and the built `bert` binary.
enum ServerPaths {
    /// The package root (this file is Tests/BertServerTests/Support/ServerPaths.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func golden(_ relative: String) -> URL {
        root.appendingPathComponent("Tests/Goldens").appendingPathComponent(relative)
    }

    /// The git-ignored cache the Makefile fills (override with BERTBLAS_CACHE).
    static let cache: URL = {
        if let env = ProcessInfo.processInfo.environment["BERTBLAS_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return root.appendingPathComponent(".cache")
    }()

    static let miniLM = cache.appendingPathComponent("models/all-MiniLM-L6-v2")
    static let spladeMLM = cache.appendingPathComponent("models/splade-tiny-mlm")
    static let headModels = golden("heads/models")
    /// The one-label cross-encoder of scripts/goldens_server.py.
    static let reranker = golden("server/models/reranker")

    /// The directory holding the built `bert` of this test run's configuration.
    static let products: URL = {
        var url = Bundle.main.bundleURL
        if url.pathExtension == "xctest" { url = url.deletingLastPathComponent() }
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("bert").path) { return url }
        return root.appendingPathComponent(".build/release")
    }()
}
