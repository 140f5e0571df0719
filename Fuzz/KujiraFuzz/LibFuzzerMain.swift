// With -DKUJIRA_LIBFUZZER (Fuzz/run.sh): the program's entry point hands control to
// libFuzzer. SwiftPM links an executable target with `main` defined as `<module>_main`, so
// libFuzzer's own `main` is never linked; this defines `kujira_fuzz_main` and calls
// `LLVMFuzzerRunDriver` (libFuzzer's documented entry for programs with their own main).
#if KUJIRA_LIBFUZZER
/// libFuzzer's driver: parses libFuzzer flags from argc/argv and runs `callback` per input.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("kujira_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
#endif
