import HarepostJSON
import Testing

@testable import HarepostStore

@Suite struct HeaderJSONTests {
    @Test func writesSortedKeysAndEscapesAndReadsBack() throws {
        let headers = [
            "X-Shop": "acme",
            "Content-Type": "application/json",
            "X-Quote": "say \"hi\"\\n\t\u{1}é",
        ]
        let text = HeaderJSON.encode(headers)
        #expect(
            text
                == #"{"Content-Type":"application/json","X-Quote":"say \"hi\"\\n\t\u0001é","X-Shop":"acme"}"#
        )
        #expect(HeaderJSON.decode(text) == headers)
        // The same bytes a JSONValue tree renders to.
        let members = headers.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
        #expect(text == JSONWriter.string(.object(members)))
    }

    @Test func writesAnEmptyObjectForNoHeaders() {
        #expect(HeaderJSON.encode([:]) == "{}")
        #expect(HeaderJSON.decode("{}").isEmpty)
    }
}
