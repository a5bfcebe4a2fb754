//! Seed 003: `apply_async` with a callback that the parent runs as soon as each task ends —
//! "a pool task, once done, tells the main process at once, which handles the result".
//!
//! # Output
//!
//! ```text
//! $ callback  # any order
//! <*> parse [https://www.baidu.com] (2100 bytes), in the parent: true
//! <*> parse [https://www.python.org] (2200 bytes), in the parent: true
//! <*> parse [https://www.openstack.org] (2500 bytes), in the parent: true
//! <*> parse [https://help.github.com/] (2400 bytes), in the parent: true
//! <*> parse [http://www.sina.com.cn/] (2300 bytes), in the parent: true
//! ```

use std::time::Duration;

use multiproc_pool::{Pool, TaskError};

/// Stands in for the seed's page download: takes a while, returns the "page".
fn get_page(url: String) -> (String, usize) {
    println!("<{}> get [{url}]", std::process::id());
    std::thread::sleep(Duration::from_millis(40 * url.len() as u64 % 300));
    let len = url.len() * 100;
    (url, len)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parent = std::process::id();
    let pool = Pool::new(3)?;
    let urls = [
        "https://www.baidu.com",
        "https://www.python.org",
        "https://www.openstack.org",
        "https://help.github.com/",
        "http://www.sina.com.cn/",
    ];
    let results: Vec<_> = urls
        .iter()
        .map(|u| {
            pool.apply_async_with(
                get_page,
                u.to_string(),
                move |(url, len): &(String, usize)| {
                    println!(
                        "<{}> parse [{url}] ({len} bytes), in the parent: {}",
                        std::process::id(),
                        std::process::id() == parent
                    );
                },
                |e: &TaskError| println!("failed: {e}"),
            )
        })
        .collect::<Result<_, _>>()?;
    for r in results {
        r.get()?;
    }
    pool.close();
    pool.join()?;
    Ok(())
}
