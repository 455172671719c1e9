fn main() {
    std::process::exit(flipdeck::cli::main());
}
