//! lottery-load: load scenarios and their verification for the lottery
//! backend. It only talks to loopback addresses, and every run is bounded
//! in time. See load-tests/README.md.

mod api;
mod beacon_standin;
mod cli;
mod drive;
mod output;
mod pace;
mod plot;
mod scenarios;
mod stats;
mod verify;
mod wechat_mock;
mod wire;

use clap::Parser;

use cli::{Cli, Command};
use output::say;
use plot::{Chart, Series};
use scenarios::{
    big_draw, cluster, draw_storm, healthz, hot_join, media, million, mixed, notices, share_storm,
    verify_joins, Args,
};

async fn run(scenario: &str, args: &Args) -> Result<(), String> {
    match scenario {
        "healthz" => {
            healthz::run(args).await;
        }
        "hot-join" => {
            hot_join::run(args).await?;
        }
        "ratio" => {
            let base = healthz::run(args).await;
            let joins = hot_join::run(args).await?;
            let ratio = joins.rate() / base.rate().max(1e-9);
            say!("ratio hot-join / healthz = {ratio:.2}");
            output::result("ratio", ratio);
            if let Some(path) = &args.plot {
                let chart = Chart {
                    caption: format!("{} connections, ratio {ratio:.2}", args.concurrency),
                    series: vec![Series::overlaid(&base), Series::overlaid(&joins)],
                    marks: Vec::new(),
                    failures: false,
                };
                plot::write_svg(path, &chart)?;
                say!("plot: {path}");
            }
        }
        "mixed" => {
            mixed::run(args).await?;
        }
        "media" => media::run(args).await?,
        "share-storm" => share_storm::run(args).await?,
        "draw-storm" => draw_storm::run(args).await?,
        "big-draw" => big_draw::run(args).await?,
        "notices" => notices::run(args).await?,
        "million" => million::run(args).await?,
        "cluster" => cluster::run(args).await?,
        "verify-joins" => verify_joins::run(args).await?,
        other => unreachable!("{other} has no subcommand"),
    }
    Ok(())
}

/// The stand-in servers serve on their own actix system until killed.
fn serve(name: &str, served: Result<(), String>) -> ! {
    if let Err(e) = served {
        eprintln!("lottery-load {name}: {e}");
        std::process::exit(1);
    }
    std::process::exit(0)
}

fn main() {
    // clap refuses unknown flags and bad values (exit 2) and answers --help.
    let command = Cli::parse().command;
    match &command {
        Command::WechatMock { listen } => serve("wechat-mock", wechat_mock::serve(listen)),
        Command::BeaconStandin { listen, period } => {
            serve("beacon-standin", beacon_standin::serve(listen, *period))
        }
        _ => {}
    }
    let Some((scenario, args, json)) = cli::scenario(command) else {
        unreachable!("the stand-ins were served above")
    };
    output::set_json(json);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let outcome = runtime.block_on(run(scenario, &args));
    std::process::exit(output::finish(scenario, outcome));
}
