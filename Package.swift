// swift-tools-version:6.0
import PackageDescription

// MARK: - Shared settings

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// MARK: - Package

let package = Package(
    name: "Lifeboat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"]),
    ],
    targets: [
        // MARK: C libraries from Debian
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "CShims"),

        // MARK: Layers (DESIGN §1), bottom to top
        .target(name: "Chunking", swiftSettings: swiftSettings),
        .target(name: "Sealing", dependencies: ["CZstd", "COpenSSL", "CShims"], swiftSettings: swiftSettings),
        .target(name: "ObjectStore", dependencies: ["Sealing", "CCurl", "COpenSSL", "CShims"], swiftSettings: swiftSettings),
        .target(name: "Repository", dependencies: ["Chunking", "Sealing", "ObjectStore", "CShims"], swiftSettings: swiftSettings),
        .executableTarget(name: "lifeboat", dependencies: ["Repository"], swiftSettings: swiftSettings),

        // MARK: Tests
        .testTarget(name: "ChunkingTests", dependencies: ["Chunking"], swiftSettings: swiftSettings),
        .testTarget(name: "SealingTests", dependencies: ["Sealing"], swiftSettings: swiftSettings),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore"], swiftSettings: swiftSettings),
        .testTarget(name: "RepositoryTests", dependencies: ["Repository"], swiftSettings: swiftSettings),
        .testTarget(name: "IntegrationTests", dependencies: ["Repository", "ObjectStore"], swiftSettings: swiftSettings),
    ]
)
