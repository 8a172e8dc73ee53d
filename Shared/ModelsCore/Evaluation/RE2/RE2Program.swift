/// A compiled RE2 pattern: a Thompson NFA run as a Pike VM (Go's `regexp` NFA, minus captures).
///
/// Matching visits each instruction at most once per input code point, so a search costs
/// O(text length × program size) time and O(program size) memory, whatever the pattern: no
/// backtracking, no exponential or "catastrophic" cases.
final class RE2Program: Sendable {
    /// The most instructions a program may have. Go allows millions; a `matches` clause never needs
    /// more than a few hundred, and the bound keeps one evaluation's cost predictable.
    static let maxInstructions = 20_000

    enum Operation: UInt8, Sendable {
        /// Consume one code point equal to `rune`.
        case rune
        /// Consume one code point in the `other` ranges starting at pair `argument` of `classRanges`.
        case runeClass
        /// Consume any code point.
        case any
        /// Consume any code point but `\n`.
        case anyExceptNewline
        /// Continue at `argument` and at `other`.
        case split
        /// Continue at `argument`.
        case jump
        /// Continue at the next instruction if the assertions in `argument` hold here.
        case assertion
        case match
    }

    struct Instruction: Sendable {
        var operation: Operation
        var argument: Int32 = 0
        var other: Int32 = 0
        var rune: UInt32 = 0
    }

    let instructions: [Instruction]
    /// The ranges of every class in the program, flat (`lo, hi` pairs); instructions point into it.
    let classRanges: [UInt32]
    /// True when every match must start at the beginning of the text (`^…` or `\A…` without `(?m)`),
    /// so the search need not restart at later positions.
    let anchoredAtStart: Bool

    /// Parses and compiles `pattern` with Go's `regexp.Compile` rules.
    init(pattern: String) throws(RE2SyntaxError) {
        let node = try RE2Parser.parse(pattern)
        var compiler = Compiler()
        try compiler.emit(node)
        compiler.append(Instruction(operation: .match))
        guard compiler.instructions.count <= Self.maxInstructions else {
            throw RE2SyntaxError(code: .tooLarge, fragment: pattern)
        }
        instructions = compiler.instructions
        classRanges = compiler.classRanges
        anchoredAtStart = Self.startsWithBeginText(node)
    }

    private static func startsWithBeginText(_ node: RE2Node) -> Bool {
        switch node {
        case .assertion(let assertion): assertion.contains(.beginText)
        case .concatenation(let items): items.first.map(startsWithBeginText) ?? false
        case .alternation(let alternatives): alternatives.allSatisfy(startsWithBeginText)
        case .repetition(let sub, let min, _): min > 0 && startsWithBeginText(sub)
        default: false
        }
    }

    // MARK: Compiling

    private struct Compiler {
        var instructions: [Instruction] = []
        var classRanges: [UInt32] = []
        /// Where each distinct class already sits in `classRanges`: `\pL{1000}` stores one copy, not 1000.
        var classOffsets: [[UInt32]: Int] = [:]

        mutating func append(_ instruction: Instruction) { instructions.append(instruction) }

        mutating func emit(_ node: RE2Node) throws(RE2SyntaxError) {
            // Checked as we go, so that `(x{1000}){1000}`-sized expansions stop early.
            guard instructions.count <= RE2Program.maxInstructions else {
                throw RE2SyntaxError(code: .tooLarge, fragment: "")
            }
            switch node {
            case .empty:
                break
            case .characterClass(let cls):
                if let rune = cls.singleRune {
                    append(Instruction(operation: .rune, rune: rune))
                } else if cls.ranges == [0, RE2CharacterClass.maxRune] {
                    append(Instruction(operation: .any))
                } else {
                    // An empty class (`[^\x00-\x{10FFFF}]`) has no ranges and matches nothing.
                    let start: Int
                    if let known = classOffsets[cls.ranges] {
                        start = known
                    } else {
                        start = classRanges.count / 2
                        classRanges.append(contentsOf: cls.ranges)
                        classOffsets[cls.ranges] = start
                    }
                    append(Instruction(operation: .runeClass, argument: Int32(start), other: Int32(cls.ranges.count / 2)))
                }
            case .anyCharacter:
                append(Instruction(operation: .any))
            case .anyCharacterExceptNewline:
                append(Instruction(operation: .anyExceptNewline))
            case .assertion(let assertion):
                append(Instruction(operation: .assertion, argument: Int32(assertion.rawValue)))
            case .concatenation(let items):
                for item in items { try emit(item) }
            case .alternation(let alternatives):
                var jumps: [Int] = []
                for (index, alternative) in alternatives.enumerated() {
                    if index < alternatives.count - 1 {
                        let split = instructions.count
                        append(Instruction(operation: .split, argument: Int32(split + 1)))
                        try emit(alternative)
                        jumps.append(instructions.count)
                        append(Instruction(operation: .jump))
                        instructions[split].other = Int32(instructions.count)
                    } else {
                        try emit(alternative)
                    }
                }
                for jump in jumps { instructions[jump].argument = Int32(instructions.count) }
            case .repetition(let sub, let min, let max):
                // x{n,m} is n copies of x then m-n optional copies (x?x?… accepts the same strings as
                // RE2's nested (x(x)?)?); x{n,} is n-1 copies then x+ (or x* when n is 0).
                if let max {
                    for _ in 0..<min { try emit(sub) }
                    if max > min {
                        var splits: [Int] = []
                        for _ in min..<max {
                            splits.append(instructions.count)
                            append(Instruction(operation: .split, argument: Int32(instructions.count + 1)))
                            try emit(sub)
                        }
                        for split in splits { instructions[split].other = Int32(instructions.count) }
                    }
                } else if min == 0 {
                    let split = instructions.count
                    append(Instruction(operation: .split, argument: Int32(split + 1)))
                    try emit(sub)
                    append(Instruction(operation: .jump, argument: Int32(split)))
                    instructions[split].other = Int32(instructions.count)
                } else {
                    for _ in 0..<(min - 1) { try emit(sub) }
                    let loop = instructions.count
                    try emit(sub)
                    append(Instruction(operation: .split, argument: Int32(loop), other: Int32(instructions.count + 1)))
                }
            }
        }
    }

    // MARK: Matching

    /// True when the pattern matches somewhere in `text` (an unanchored search, as Go's `MatchString`),
    /// reading `text` as Unicode code points.
    func matches(_ text: String) -> Bool {
        let count = instructions.count
        // Two sparse sets (2 × 2 × count) and a work stack (each instruction pushes at most two entries).
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: count * 6 + 1) { buffer in
            buffer.initialize(repeating: -1)
            return instructions.withUnsafeBufferPointer { program in
                classRanges.withUnsafeBufferPointer { ranges in
                    var machine = Machine(program: program, ranges: ranges, storage: buffer, count: count)
                    // Native Swift strings are contiguous UTF-8; others (bridged) are copied once.
                    if let result = text.utf8.withContiguousStorageIfAvailable({ machine.run($0, anchored: anchoredAtStart) }) {
                        return result
                    }
                    return Array(text.utf8).withUnsafeBufferPointer { machine.run($0, anchored: anchoredAtStart) }
                }
            }
        }
    }

    /// The two thread lists (sparse sets of instruction indexes) and the work stack of one search.
    private struct Machine {
        let program: UnsafeBufferPointer<Instruction>
        let ranges: UnsafeBufferPointer<UInt32>
        var current: SparseSet
        var next: SparseSet
        let stack: UnsafeMutablePointer<Int32>

        init(program: UnsafeBufferPointer<Instruction>, ranges: UnsafeBufferPointer<UInt32>,
             storage: UnsafeMutableBufferPointer<Int32>, count: Int) {
            self.program = program
            self.ranges = ranges
            let base = storage.baseAddress!
            current = SparseSet(dense: base, sparse: base + count)
            next = SparseSet(dense: base + 2 * count, sparse: base + 3 * count)
            stack = base + 4 * count
        }

        mutating func run(_ utf8: UnsafeBufferPointer<UInt8>, anchored: Bool) -> Bool {
            var offset = 0
            var here = Self.decode(utf8, &offset)
            var flags = Self.assertions(nil, here)
            if Self.addThread(&current, 0, flags, program, stack) { return true }
            while let rune = here {
                let following = Self.decode(utf8, &offset)
                flags = Self.assertions(rune, following)
                next.removeAll()
                for k in 0..<current.count {
                    let pc = Int(current.dense[k])
                    let instruction = program[pc]
                    let consumes: Bool
                    switch instruction.operation {
                    case .rune: consumes = rune == instruction.rune
                    case .runeClass: consumes = Self.contains(rune, ranges, Int(instruction.argument), Int(instruction.other))
                    case .any: consumes = true
                    case .anyExceptNewline: consumes = rune != 0x0A
                    case .split, .jump, .assertion, .match: consumes = false
                    }
                    if consumes, Self.addThread(&next, Int32(pc + 1), flags, program, stack) { return true }
                }
                swap(&current, &next)
                here = following
                if !anchored {
                    if Self.addThread(&current, 0, flags, program, stack) { return true }
                } else if current.count == 0 {
                    return false
                }
            }
            return false
        }

        /// The code point at `offset` of valid UTF-8 (a Swift string's), advancing `offset`; nil at the end.
        @inline(__always)
        private static func decode(_ utf8: UnsafeBufferPointer<UInt8>, _ offset: inout Int) -> UInt32? {
            let i = offset
            guard i < utf8.count else { return nil }
            let b0 = UInt32(utf8[i])
            if b0 < 0x80 {
                offset = i + 1
                return b0
            }
            if b0 < 0xE0 {
                offset = i + 2
                return (b0 & 0x1F) << 6 | (UInt32(utf8[i + 1]) & 0x3F)
            }
            if b0 < 0xF0 {
                offset = i + 3
                return (b0 & 0x0F) << 12 | (UInt32(utf8[i + 1]) & 0x3F) << 6 | (UInt32(utf8[i + 2]) & 0x3F)
            }
            offset = i + 4
            return (b0 & 0x07) << 18 | (UInt32(utf8[i + 1]) & 0x3F) << 12 | (UInt32(utf8[i + 2]) & 0x3F) << 6
                | (UInt32(utf8[i + 3]) & 0x3F)
        }

        /// Binary search of `rune` in the `count` ranges starting at pair `first`.
        @inline(__always)
        private static func contains(_ rune: UInt32, _ ranges: UnsafeBufferPointer<UInt32>, _ first: Int, _ count: Int) -> Bool {
            var lo = first
            var hi = first + count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if rune < ranges[2 * mid] {
                    hi = mid
                } else if rune > ranges[2 * mid + 1] {
                    lo = mid + 1
                } else {
                    return true
                }
            }
            return false
        }

        /// The assertions that hold between `before` and `after` (nil at the edges of the text). Plain bit
        /// arithmetic: this runs once per code point.
        @inline(__always)
        private static func assertions(_ before: UInt32?, _ after: UInt32?) -> UInt8 {
            // RE2Assertion's bits, spelled out: static members of an OptionSet are lazily initialized globals.
            let beginLine: UInt8 = 1, endLine: UInt8 = 2, beginText: UInt8 = 4, endText: UInt8 = 8
            let wordBoundary: UInt8 = 16, notWordBoundary: UInt8 = 32
            var bits: UInt8 = 0
            var wordBefore = false
            var wordAfter = false
            if let before {
                if before == 0x0A { bits |= beginLine }
                wordBefore = RE2CharacterClass.isWordRune(before)
            } else {
                bits |= beginText | beginLine
            }
            if let after {
                if after == 0x0A { bits |= endLine }
                wordAfter = RE2CharacterClass.isWordRune(after)
            } else {
                bits |= endText | endLine
            }
            bits |= wordBefore != wordAfter ? wordBoundary : notWordBoundary
            return bits
        }

        /// Adds `start` and everything reachable from it without consuming input; true when that reaches
        /// `match` (the search can stop: only whether there is a match matters).
        private static func addThread(
            _ list: inout SparseSet, _ start: Int32, _ flags: UInt8,
            _ program: UnsafeBufferPointer<Instruction>, _ stack: UnsafeMutablePointer<Int32>
        ) -> Bool {
            stack[0] = start
            var depth = 1
            while depth > 0 {
                depth -= 1
                let pc = stack[depth]
                if list.contains(pc) { continue }
                list.insert(pc)
                let instruction = program[Int(pc)]
                switch instruction.operation {
                case .match:
                    return true
                case .jump:
                    stack[depth] = instruction.argument
                    depth += 1
                case .split:
                    stack[depth] = instruction.other
                    stack[depth + 1] = instruction.argument
                    depth += 2
                case .assertion:
                    let required = UInt8(truncatingIfNeeded: instruction.argument)
                    if flags & required == required {
                        stack[depth] = pc + 1
                        depth += 1
                    }
                case .rune, .runeClass, .any, .anyExceptNewline:
                    break
                }
            }
            return false
        }
    }

    /// A set of instruction indexes with O(1) insert, lookup and clear (Briggs and Torczon), over
    /// caller-provided storage whose contents need no initialization.
    private struct SparseSet {
        let dense: UnsafeMutablePointer<Int32>
        let sparse: UnsafeMutablePointer<Int32>
        var count = 0

        init(dense: UnsafeMutablePointer<Int32>, sparse: UnsafeMutablePointer<Int32>) {
            self.dense = dense
            self.sparse = sparse
        }

        func contains(_ value: Int32) -> Bool {
            let slot = Int(sparse[Int(value)])
            return slot >= 0 && slot < count && dense[slot] == value
        }

        mutating func insert(_ value: Int32) {
            sparse[Int(value)] = Int32(count)
            dense[count] = value
            count += 1
        }

        mutating func removeAll() { count = 0 }
    }
}
