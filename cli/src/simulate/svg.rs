//! One picture per run: concurrency stacked by role with the account's limit, the minutes any
//! alarm was in ALARM shaded, the guard's actions and restores marked; below it, the victims'
//! throttles. SVG only, drawn with plotters.

use std::path::Path;

use anyhow::{Result, anyhow};
use cguard_core::intake::AlarmState;
use cguard_sim::cloudwatch::MINUTE;
use cguard_sim::{Outcome, Role, Scenario};
use plotters::coord::Shift;
use plotters::prelude::*;

const SIZE: (u32, u32) = (1100, 700);
const ALARM: RGBColor = RGBColor(255, 226, 226);
const ACTION: RGBColor = RGBColor(31, 78, 170);
const RESTORE: RGBColor = RGBColor(20, 140, 60);

/// Roles from the bottom of the stack up, with their colours.
const STACK: [(Role, RGBColor); 4] = [
    (Role::Bystander, RGBColor(170, 170, 170)),
    (Role::Protected, RGBColor(120, 90, 200)),
    (Role::Victim, RGBColor(240, 150, 40)),
    (Role::Offender, RGBColor(200, 40, 40)),
];

fn whole(v: &f64) -> String {
    format!("{v:.0}")
}

fn minute(second: u32) -> f64 {
    f64::from(second) / f64::from(MINUTE)
}

/// The spans (in minutes) during which at least one alarm was in ALARM.
fn alarm_spans(o: &Outcome) -> Vec<(f64, f64)> {
    let mut changes: Vec<(u32, i32)> = o
        .alarms
        .iter()
        .flat_map(|a| {
            let mut in_alarm = false;
            a.transitions.iter().filter_map(move |t| {
                let now = t.to == AlarmState::Alarm;
                let step = match (in_alarm, now) {
                    (false, true) => Some((t.at, 1)),
                    (true, false) => Some((t.at, -1)),
                    _ => None,
                };
                in_alarm = now;
                step
            })
        })
        .collect();
    changes.sort_unstable();
    let (mut spans, mut open, mut since) = (Vec::new(), 0, 0);
    for (at, step) in changes {
        if open == 0 && step > 0 {
            since = at;
        }
        open += step;
        if open == 0 {
            spans.push((minute(since), minute(at)));
        }
    }
    if open > 0 {
        spans.push((minute(since), minute(o.duration_s)));
    }
    spans
}

/// Seconds at which the guard applied an action, and a restore.
fn marks(o: &Outcome) -> (Vec<u32>, Vec<u32>) {
    let Some(g) = &o.guard else {
        return (Vec::new(), Vec::new());
    };
    let at = |steps: &[cguard_sim::guarded::Step]| {
        let mut t: Vec<u32> = steps.iter().filter(|s| s.applied).map(|s| s.at).collect();
        t.dedup();
        t
    };
    (at(&g.actions), at(&g.restores))
}

pub fn draw(scenario: &Scenario, o: &Outcome, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 7 / 10);
    let limit = f64::from(scenario.params.pool.account_limit);
    concurrency(&upper, scenario, o, limit).map_err(|e| anyhow!("{e}"))?;
    throttles(&lower, o).map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

fn concurrency(area: &Area<'_>, scenario: &Scenario, o: &Outcome, limit: f64) -> Drawn {
    let end = minute(o.duration_s);
    // Each role's mean concurrency per minute, stacked from the bottom up.
    let mut stacked: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut base = vec![0.0; o.minutes.len()];
    for (role, _) in STACK {
        for (b, m) in base.iter_mut().zip(&o.minutes) {
            let c = m.roles.get(&role).map_or(0, |c| c.execution_seconds);
            *b += c as f64 / f64::from(MINUTE);
        }
        stacked.push(
            base.iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v))
                .collect(),
        );
    }
    let top = base.iter().copied().fold(limit, f64::max) * 1.1;
    let title = format!("{} — {} (seed {})", scenario.name, o.policy, o.seed);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .y_desc("concurrent executions (mean per minute)")
        .x_desc("minute")
        .x_label_formatter(&whole)
        .y_label_formatter(&whole)
        .draw()?;
    chart
        .draw_series(
            alarm_spans(o)
                .into_iter()
                .map(|(a, b)| Rectangle::new([(a, 0.0), (b, top)], ALARM.filled())),
        )?
        .label("an alarm in ALARM")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ALARM.filled()));
    // Topmost first, so that each lower layer is drawn over the one above it.
    for ((role, colour), points) in STACK.iter().zip(&stacked).rev() {
        chart
            .draw_series(AreaSeries::new(points.clone(), 0.0, colour.mix(0.85)))?
            .label(format!("{role:?}").to_lowercase())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, limit), (end, limit)],
            BLACK.stroke_width(2),
        ))?
        .label("account limit")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK.stroke_width(2)));
    let (actions, restores) = marks(o);
    for (times, colour, label) in [
        (actions, ACTION, "guard action"),
        (restores, RESTORE, "guard restore"),
    ] {
        if times.is_empty() {
            continue;
        }
        chart
            .draw_series(times.into_iter().map(|t| {
                let x = minute(t);
                PathElement::new([(x, 0.0), (x, top)], colour.stroke_width(2))
            }))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn throttles(area: &Area<'_>, o: &Outcome) -> Drawn {
    let end = minute(o.duration_s);
    let points: Vec<(f64, f64)> = o
        .minutes
        .iter()
        .map(|m| {
            let n = m.roles.get(&Role::Victim).map_or(0, |c| c.throttled());
            (m.minute as f64, n as f64)
        })
        .collect();
    let top = points.iter().map(|p| p.1).fold(10.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .y_desc("victims' throttles / minute")
        .x_desc("minute")
        .x_label_formatter(&whole)
        .y_label_formatter(&whole)
        .draw()?;
    let (actions, restores) = marks(o);
    for (times, colour) in [(actions, ACTION), (restores, RESTORE)] {
        chart.draw_series(times.into_iter().map(|t| {
            let x = minute(t);
            PathElement::new([(x, 0.0), (x, top)], colour.stroke_width(2))
        }))?;
    }
    chart.draw_series(AreaSeries::new(points, 0.0, RED.mix(0.6)).border_style(RED))?;
    Ok(())
}
