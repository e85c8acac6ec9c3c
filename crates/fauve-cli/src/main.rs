fn main() { println!("fauve"); }
