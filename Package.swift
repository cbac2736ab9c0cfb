// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "BertBLAS",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BertBLAS", targets: ["BertBLAS"]),
        .executable(name: "bert", targets: ["bert"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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

        // MARK: - Executables
        .executableTarget(
            name: "bert",
            dependencies: [
                "BertBLAS",
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
    ]
)
