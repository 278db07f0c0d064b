import Foundation
import Testing
import PromptSelCore

/// A deliberate data race, for `make sanitize` only: it runs this test under TSan with
/// PROMPTSEL_SANITIZER_CANARY=race and expects TSan to fail the run, which proves the
/// Swift tests' TSan can see a race at all (a silent TSan cannot pass). Two threads
/// update one PromptSelector without the lock that the C layer's SelectorHandle puts
/// around it. Skipped everywhere else.
@Suite("Sanitizer canary")
struct SanitizerCanaryTests {
    /// Shares the selector with the threads, as the handle does, but without its lock.
    final class Unlocked: @unchecked Sendable {
        let selector: PromptSelector
        init(_ selector: PromptSelector) { self.selector = selector }
    }

    @Test("two threads update one PromptSelector without its lock (deliberate race)",
          .enabled(if: ProcessInfo.processInfo.environment["PROMPTSEL_SANITIZER_CANARY"] == "race"))
    func deliberateRace() throws {
        let shared = Unlocked(try PromptSelector(method: "mopps", params: "seed=1"))
        // The ids exist before the threads start, so the racing updates change them in
        // place and nothing is reallocated under the other thread's feet.
        _ = try shared.selector.select(candidates: [1, 2, 3, 4], batchSize: 2)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            Thread {
                for _ in 0..<1000 { try? shared.selector.update(ids: [1], rates: [0.5], rollouts: [8]) }
                done.signal()
            }.start()
        }
        done.wait()
        done.wait()
    }
}
