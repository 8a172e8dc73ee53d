import Foundation
import ModelsCore
import ServiceKit
import Testing

@testable import EventsProcessor

@Suite("Iteration exposures")
struct IterationExposuresTests {
    let user = EnvironmentContext(environmentID: "env", context: ContextIdentity(kind: "user", key: "u"))

    @Test("each iteration gets the first exposure in its window, not the record's earliest; ties take the smaller variation")
    func firstInWindow() throws {
        var statistics = EventExtraction.Statistics()
        let record = EventExtraction(lateness: 7 * 24 * .millisecondsPerHour).extract(
            EventsRecord(
                environmentID: "env", payloadID: "p", receivedAt: 10_000, source: .server, userAgent: "test",
                events: try JSONParser.parse(
                    """
                    [{"kind":"feature","key":"f","creationDate":900,"variation":2,"context":{"kind":"user","key":"u"}},
                     {"kind":"feature","key":"f","creationDate":1500,"variation":1,"context":{"kind":"user","key":"u"}},
                     {"kind":"feature","key":"f","creationDate":1500,"variation":0,"context":{"kind":"user","key":"u"}},
                     {"kind":"feature","key":"f","creationDate":2500,"variation":2,"context":{"kind":"user","key":"u"}},
                     {"kind":"feature","key":"g","creationDate":1200,"variation":1,"context":{"kind":"user","key":"u"}}]
                    """
                ).arrayValue!),
            statistics: &statistics)
        let cell = ExposureCell(context: user, flagKey: "f")
        #expect(record.exposures[cell] == Exposure(exposedAt: 900, variation: 2))
        #expect(record.exposureInstants[cell] == [900: 2, 1500: 0, 2500: 2])
        let windows: [FlagIdentity: [IterationExposures.Window]] = [
            FlagIdentity(environmentID: "env", flagKey: "f"): [
                .init(start: 1000, stop: 2000), .init(start: 2000, stop: nil), .init(start: 3000, stop: nil), .init(start: 0, stop: 900),
            ],
        ]
        let firsts = IterationExposures.firstExposures(record.exposureInstants, windows: windows)
        func key(_ start: Int64, _ flag: String = "f") -> IterationExposures.Key {
            IterationExposures.Key(environmentID: "env", flagKey: flag, start: start, kind: "user", key: "u")
        }
        #expect(firsts == [key(1000): Exposure(exposedAt: 1500, variation: 0), key(2000): Exposure(exposedAt: 2500, variation: 2)])
    }
}
