/// How this build of ModelsCore was compiled.
public enum ModelsCoreBuild {
    /// Whether ModelsCore itself is optimized (a release build, or a debug build with
    /// `VANE_BENCHMARKS` set, see Package.swift). Evaluated inside ModelsCore, not in the caller.
    @inline(never)
    public static var isOptimized: Bool { !_isDebugAssertConfiguration() }
}
