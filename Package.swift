// swift-tools-version:6.0
// Swift 6 language mode (tools version 6.0): strict concurrency checking is on.
import PackageDescription

let package = Package(
    name: "PromptSel",
    products: [
        // MARK: - Public API
        // The product name fixes the file name: libpromptsel.so.
        .library(name: "promptsel", type: .dynamic, targets: ["PromptSel"]),
    ],
    targets: [
        // MARK: - Implementation
        // The hand-written public header, exposed to Swift so that every
        // `@c @implementation` export is checked against it by the compiler.
        .target(name: "CPromptSel", path: "include", publicHeadersPath: "."),
        // Pure Swift: models, sampling, selection rules, checkpoint codec. No pointers.
        .target(
            name: "PromptSelCore",
            linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]
        ),
        // Symbol-version shim for the wheel's static build (see its source).
        .target(name: "PromptSelGlibcCompat"),
        // The thin C ABI layer: validation, handles, error bridge, file I/O.
        .target(name: "PromptSel", dependencies: ["CPromptSel", "PromptSelCore", "PromptSelGlibcCompat"]),

        // MARK: - Tests
        .testTarget(name: "PromptSelCoreTests", dependencies: ["PromptSelCore"]),
        .testTarget(name: "PromptSelABITests", dependencies: ["PromptSel", "CPromptSel"]),
    ]
)
