// swift-tools-version:6.0
import PackageDescription

// A user's package that links BertBLAS by path, as a server would: proof that the library is
// usable from outside. `make test` builds `concurrent-embed` into ../.build-examples and checks
// its vectors against `bert embed`.
let package = Package(
    name: "BertBLASExamples",
    platforms: [.macOS(.v13)],
    dependencies: [
        // The name makes the identity independent of the folder the repository is cloned into.
        .package(name: "BertBLAS", path: ".."),
    ],
    targets: [
        // MARK: - Executables
        // Every line of a file as its own request from N concurrent tasks, through one BatchingEngine.
        .executableTarget(
            name: "concurrent-embed",
            dependencies: [.product(name: "BertBLAS", package: "BertBLAS")]
        ),
    ]
)
