// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "BertBLAS",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BertBLAS", targets: ["BertBLAS"]),
        // The HTTP server (TEI- and OpenAI-compatible routes), for mounting in a Hummingbird app.
        .library(name: "BertServer", targets: ["BertServer"]),
        .executable(name: "bert", targets: ["bert"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Server only (BertServer): HTTP, lifecycle, metrics. Hummingbird's default traits pull in
        // swift-configuration, which the server does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: - System libraries
        // OpenBLAS (cblas_sgemm) and LAPACKE. Debian: libopenblas-dev, liblapacke-dev.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        // MARK: - Library
        // text → Encoding → embeddings → layers → head → decoded output.
        .target(
            name: "BertBLAS",
            dependencies: ["COpenBLAS"]
        ),

        // MARK: - Server
        // HTTP routes over the library's batching engine. BertBLAS itself depends on no HTTP framework.
        .target(
            name: "BertServer",
            dependencies: [
                "BertBLAS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // MARK: - Executables
        .executableTarget(
            name: "bert",
            dependencies: [
                "BertBLAS",
                "BertServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "BertBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/bench"
        ),

        // MARK: - Tests
        .testTarget(
            name: "BertBLASTests",
            dependencies: ["BertBLAS"],
            exclude: []
        ),
        .testTarget(
            name: "BertServerTests",
            dependencies: ["BertServer", "BertBLAS"]
        ),
    ]
)
