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
        /// Consume one code point in `classes[argument]`.
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
    let classes: [RE2CharacterClass]
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
        classes = compiler.classes
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
        var classes: [RE2CharacterClass] = []

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
                } else if cls.isEmpty {
                    // Matches nothing, e.g. `[^\x00-\x{10FFFF}]`: a class no code point is in.
                    classes.append(cls)
                    append(Instruction(operation: .runeClass, argument: Int32(classes.count - 1)))
                } else if cls.ranges == [0, RE2CharacterClass.maxRune] {
                    append(Instruction(operation: .any))
                } else {
                    classes.append(cls)
                    append(Instruction(operation: .runeClass, argument: Int32(classes.count - 1)))
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
                var machine = Machine(program: program, classes: classes, storage: buffer, count: count)
                return machine.run(text, anchored: anchoredAtStart)
            }
        }
    }

    /// The two thread lists (sparse sets of instruction indexes) and the work stack of one search.
    private struct Machine {
        let program: UnsafeBufferPointer<Instruction>
        let classes: [RE2CharacterClass]
        var current: SparseSet
        var next: SparseSet
        let stack: UnsafeMutablePointer<Int32>

        init(program: UnsafeBufferPointer<Instruction>, classes: [RE2CharacterClass],
             storage: UnsafeMutableBufferPointer<Int32>, count: Int) {
            self.program = program
            self.classes = classes
            let base = storage.baseAddress!
            current = SparseSet(dense: base, sparse: base + count)
            next = SparseSet(dense: base + 2 * count, sparse: base + 3 * count)
            stack = base + 4 * count
        }

        mutating func run(_ text: String, anchored: Bool) -> Bool {
            let scalars = text.unicodeScalars
            var index = scalars.startIndex
            let end = scalars.endIndex
            var here: UInt32? = index < end ? scalars[index].value : nil
            var flags = Self.assertions(nil, here)
            if Self.addThread(&current, 0, flags, program, stack) { return true }
            while let rune = here {
                scalars.formIndex(after: &index)
                let following: UInt32? = index < end ? scalars[index].value : nil
                flags = Self.assertions(rune, following)
                next.removeAll()
                for k in 0..<current.count {
                    let pc = Int(current.dense[k])
                    let instruction = program[pc]
                    let consumes: Bool
                    switch instruction.operation {
                    case .rune: consumes = rune == instruction.rune
                    case .runeClass: consumes = classes[Int(instruction.argument)].contains(rune)
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

        /// The assertions that hold between `before` and `after` (nil at the edges of the text).
        private static func assertions(_ before: UInt32?, _ after: UInt32?) -> RE2Assertion {
            var flags: RE2Assertion = []
            if before == nil { flags.formUnion([.beginText, .beginLine]) }
            if before == 0x0A { flags.insert(.beginLine) }
            if after == nil { flags.formUnion([.endText, .endLine]) }
            if after == 0x0A { flags.insert(.endLine) }
            let wordBefore = before.map(RE2CharacterClass.isWordRune) ?? false
            let wordAfter = after.map(RE2CharacterClass.isWordRune) ?? false
            flags.insert(wordBefore != wordAfter ? .wordBoundary : .notWordBoundary)
            return flags
        }

        /// Adds `start` and everything reachable from it without consuming input; true when that reaches
        /// `match` (the search can stop: only whether there is a match matters).
        private static func addThread(
            _ list: inout SparseSet, _ start: Int32, _ flags: RE2Assertion,
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
                    if flags.isSuperset(of: RE2Assertion(rawValue: UInt8(instruction.argument))) {
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
