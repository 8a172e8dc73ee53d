import PostgresNIO

/// Reads a row's columns in order, each decoded as its own concrete type.
///
/// For rows read by the hundred thousand: PostgresNIO's `decode((A, B, …).self)` builds its result through a parameter
/// pack, whose tuple type the runtime looks up on every row (`swift_getGenericMetadata`, a tuple-metadata cache under a
/// lock), which made up most of the events-processor's time spent decoding rows.
public struct ColumnReader {
    private var cells: PostgresRow.Iterator

    /// A column the statement did not return.
    public struct MissingColumn: Error, CustomStringConvertible {
        public let index: Int
        public var description: String { "the row has no column \(index)" }
    }

    private var index = 0

    public init(_ row: PostgresRow) {
        cells = row.makeIterator()
    }

    /// The next column, decoded as `T`.
    @inlinable
    public mutating func next<T: PostgresDecodable>(_: T.Type = T.self) throws -> T {
        try nextCell().decode(T.self, context: .default)
    }

    @usableFromInline
    mutating func nextCell() throws -> PostgresCell {
        defer { index += 1 }
        guard let cell = cells.next() else { throw MissingColumn(index: index) }
        return cell
    }
}
