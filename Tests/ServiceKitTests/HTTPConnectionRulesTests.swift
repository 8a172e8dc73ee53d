import NIOHTTP1
import Testing

@testable import ServiceKit

/// ``HTTPConnectionRules`` without I/O: sequences of what passes through a connection, and the
/// actions they call for.
@Suite("HTTP connection rules")
struct HTTPConnectionRulesTests {
    @Test("HTTP/1.0, and Connection: close in HTTP/1.1, close the connection after the response")
    func closingRequests() {
        #expect(HTTPConnectionRules.closesConnection(version: .http1_0, isKeepAlive: false))
        #expect(HTTPConnectionRules.closesConnection(version: .http1_0, isKeepAlive: true), "HTTP/1.0 keep-alive is not offered")
        #expect(HTTPConnectionRules.closesConnection(version: .http1_1, isKeepAlive: false))
        #expect(!HTTPConnectionRules.closesConnection(version: .http1_1, isKeepAlive: true))

        var rules = HTTPConnectionRules()
        let action1 = rules.requestHead(version: .http1_0, isKeepAlive: false)
        #expect(action1 == .forward(markClose: true))
        let action2 = rules.requestEnd()
        #expect(action2)
        let action3 = rules.responseHead()
        #expect(action3 == .forward(close: true, version: .http1_0))
        let action4 = rules.responseEnd()
        #expect(action4 == .forwardThenClose)
        let action5 = rules.requestHead(version: .http1_1, isKeepAlive: true)
        #expect(action5 == .drop, "nothing is read after a closing response")
    }

    @Test("keep-alive requests keep the connection, pipelined responses are matched in order")
    func keepAlive() {
        var rules = HTTPConnectionRules()
        let action6 = rules.requestHead(version: .http1_1, isKeepAlive: true)
        #expect(action6 == .forward(markClose: false))
        let action7 = rules.requestEnd()
        #expect(action7)
        let action8 = rules.requestHead(version: .http1_1, isKeepAlive: false)
        #expect(action8 == .forward(markClose: true))
        let action9 = rules.requestEnd()
        #expect(action9)
        let action10 = rules.responseHead()
        #expect(action10 == .forward(close: false, version: .http1_1))
        let action11 = rules.responseEnd()
        #expect(action11 == .forward)
        let action12 = rules.responseHead()
        #expect(action12 == .forward(close: true, version: .http1_1))
        let action13 = rules.responseEnd()
        #expect(action13 == .forwardThenClose)
    }

    @Test("a malformed request without a response gets the 400, and the application's writes are dropped")
    func parseErrorBeforeResponse() {
        var rules = HTTPConnectionRules()
        _ = rules.requestHead(version: .http1_1, isKeepAlive: true)
        let action14 = rules.parseError()
        #expect(action14 == .answerBadRequestThenClose(version: .http1_1))
        #expect(!rules.forwardsRequestParts)
        let action15 = rules.responseHead()
        #expect(action15 == .drop)
        #expect(!rules.forwardsResponseParts)
        let action16 = rules.responseEnd()
        #expect(action16 == .drop)
        let action17 = rules.parseError()
        #expect(action17 == .ignore)
    }

    @Test("a malformed head of a new request gets the 400")
    func parseErrorInHead() {
        var rules = HTTPConnectionRules()
        _ = rules.requestHead(version: .http1_1, isKeepAlive: true)
        let action18 = rules.requestEnd()
        #expect(action18)
        _ = rules.responseHead()
        let action19 = rules.responseEnd()
        #expect(action19 == .forward)
        let action20 = rules.parseError()
        #expect(action20 == .answerBadRequestThenClose(version: .http1_1))
    }

    @Test("a malformed body after its response (or during it) closes without a second response")
    func parseErrorAfterResponse() {
        var early = HTTPConnectionRules()
        _ = early.requestHead(version: .http1_1, isKeepAlive: true)
        _ = early.responseHead()
        let action21 = early.responseEnd()
        #expect(action21 == .forward)
        let action22 = early.parseError()
        #expect(action22 == .failAndClose)

        var during = HTTPConnectionRules()
        _ = during.requestHead(version: .http1_1, isKeepAlive: true)
        _ = during.responseHead()
        let action23 = during.parseError()
        #expect(action23 == .failAndClose)
        #expect(!during.forwardsResponseParts)
    }

    @Test("a response written before its request was read to the end is an early one; the connection stays")
    func earlyResponse() {
        var rules = HTTPConnectionRules()
        let head = rules.requestHead(version: .http1_1, isKeepAlive: true)
        #expect(head == .forward(markClose: false))
        let response = rules.responseHead()
        #expect(response == .forward(close: false, version: .http1_1))
        #expect(rules.isReadingRequest, "the rest of the body is still to come: the guard bounds it")
        let end = rules.responseEnd()
        #expect(end == .forward)
        let ended = rules.requestEnd()
        #expect(ended && !rules.isReadingRequest)
    }

    @Test("the request timeout runs from the first byte to the request's end")
    func requestTimeout() {
        var rules = HTTPConnectionRules()
        let first = rules.bytesReceived()
        #expect(first, "the first bytes arm the timer")
        let later = rules.bytesReceived()
        #expect(!later, "later bytes of the same request do not")
        _ = rules.requestHead(version: .http1_1, isKeepAlive: true)
        let ended = rules.requestEnd()
        #expect(ended)
        let idle = rules.requestTimeout()
        #expect(idle == .ignore, "a complete request is not timed out")
        let next = rules.bytesReceived()
        #expect(next, "the next request arms it again")
        let expired = rules.requestTimeout()
        #expect(expired == .answerTimeoutThenClose(version: .http1_1))
        let after = rules.responseHead()
        #expect(after == .drop)
    }
}
