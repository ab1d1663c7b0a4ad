public import HarepostJSON
public import Testing

/// Whether `live` has the seed's shape: the same keys in the same order, and
/// where both sides hold a value, the same JSON type (recursively; an array is
/// compared by its first elements). A seed `null` admits any value and a live
/// `null` is allowed where the seed documents a nullable field.
public func expectSameShape(
    _ live: JSONValue,
    as seed: JSONValue,
    at path: String = "$",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    switch (live, seed) {
    case (.object(let a), .object(let b)):
        #expect(a.map(\.key) == b.map(\.key), "keys at \(path)", sourceLocation: sourceLocation)
        for (key, value) in a {
            if let expected = b.first(where: { $0.key == key })?.value {
                expectSameShape(value, as: expected, at: "\(path).\(key)", sourceLocation: sourceLocation)
            }
        }
    case (.array(let a), .array(let b)):
        if let first = a.first, let expected = b.first {
            expectSameShape(first, as: expected, at: "\(path)[0]", sourceLocation: sourceLocation)
        }
    case (.null, _), (_, .null), (.string, .string), (.bool, .bool), (.integer, .integer), (.integer, .double),
        (.double, .double), (.double, .integer):
        break
    default:
        Issue.record("type at \(path): \(live) vs seed \(seed)", sourceLocation: sourceLocation)
    }
}
