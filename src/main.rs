fn main() {
    stampede::start_page();
}
