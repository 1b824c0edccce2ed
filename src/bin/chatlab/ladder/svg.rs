//! The ladder as SVG, written by hand (a few element kinds; a crate would add weight and hide
//! nothing we need): time runs downward, each segment an arrow from its departure on the
//! sender's time line to its arrival on the receiver's, the states on the time lines.
//!
//! In four steps, one file each: [`map`] turns time into height (one scale, breaks where
//! arrows would overlap, folds for long pauses: the rule the legend states); [`layout`] places
//! every mark as data, with [`labels`] keeping each arrow's label clear of the others;
//! [`style`] holds sizes and colours, one set for the page and one for a slide; [`words`] the
//! words in French and English; [`xml`] writes the result.

mod labels;
mod layout;
mod map;
mod style;
mod words;
mod xml;

use super::Ctx;
use crate::capture::model::Connection;

/// What the drawing is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Look {
    /// A document read up close, as tall as the conversation (the live view, `--svg`).
    #[default]
    Page,
    /// A 16:9 slide, letters readable from the back of a room: each connection fits one.
    Slide,
}

/// The SVG document for the connections CONNS (numbered among N), as a page.
pub fn draw(out: &mut String, ctx: &Ctx, conns: &[(usize, &Connection)], n: usize) {
    draw_as(out, ctx, conns, n, Look::Page);
}

/// The SVG document for the connections CONNS (numbered among N), for LOOK.
pub fn draw_as(out: &mut String, ctx: &Ctx, conns: &[(usize, &Connection)], n: usize, look: Look) {
    let look = match look {
        Look::Page => &style::PAGE,
        Look::Slide => &style::SLIDE,
    };
    let mut ladders = Vec::new();
    let mut y = if look.slide { 0.0 } else { 20.0 };
    for (i, c) in conns {
        let l = layout::ladder(ctx, look, (*i, n), c, y);
        y = l.end + if look.slide { 0.0 } else { 40.0 };
        ladders.push(l);
    }
    xml::document(out, look, &ladders, (look.width, y.ceil()));
}

#[cfg(test)]
mod tests {
    use super::map::Map;
    use super::style::PAGE;
    use super::*;
    use crate::capture::model::{Fate, Segment};
    use crate::capture::model::{
        connections,
        tests::{MS as NS_MS, Script, talk, talk_then},
    };
    use crate::capture::pcap::{Flags, Ns};
    use crate::ladder::text::tests::ctx;

    #[test]
    fn the_map_is_monotone_proportional_and_folds_pauses() {
        // A pause of 10 s, then one more segment.
        let s = talk_then(10_000 * NS_MS, b"x", Some(NS_MS));
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None, &PAGE, 1.0);
        assert_eq!(map.folds.len(), 1);
        let mut last = f64::MIN;
        for t in (0..11_000).map(|ms| ms * NS_MS) {
            let y = map.y(t);
            assert!(y >= last);
            last = y;
        }
        assert!(
            map.bottom() < 1000.0,
            "the pause is folded: {}",
            map.bottom()
        );
    }

    #[test]
    fn a_pause_too_tall_to_draw_is_folded_but_never_inside_a_delay() {
        // 1 ms one-way: a 450 ms pause, under the 1 s threshold, would be 540 px of nothing.
        let mut s = talk();
        let data = Flags::PSH | Flags::ACK;
        s.send(470 * NS_MS, true, data, 9, 7, b"x", Some(NS_MS));
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None, &PAGE, 1.0);
        assert_eq!(map.folds.len(), 1, "{:?}", map.folds);
        assert!(map.fold < 450 * NS_MS, "the legend says so: {}", map.fold);
        assert!(map.bottom() < 400.0, "{}", map.bottom());
        // 200 ms one-way: the same pause is shorter than three delays, drawn in proportion.
        let mut s = Script::new();
        let d = Some(200 * NS_MS);
        s.send(0, true, Flags::SYN, 0, 0, b"", d)
            .send(200 * NS_MS, false, Flags::SYN | Flags::ACK, 0, 1, b"", d)
            .send(400 * NS_MS, true, Flags::ACK, 1, 1, b"", d)
            .send(850 * NS_MS, true, data, 1, 1, b"x", d);
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 500 * NS_MS, None, &PAGE, 1.0);
        assert!(map.folds.is_empty(), "{:?}", map.folds);
        assert_eq!(map.fold, 600 * NS_MS);
    }

    #[test]
    fn a_label_is_kept_clear_of_the_arrows_that_cross_its_own() {
        // Behind a 200 ms delay, the server's ACK of the first line crosses the second line's
        // arrow at 40 % of its length: where its label would go by default.
        let mut s = talk();
        let d = Some(200 * NS_MS);
        let data = Flags::PSH | Flags::ACK;
        s.send(100 * NS_MS, true, data, 9, 7, b"ligne 1\n", d)
            .send(300 * NS_MS, false, Flags::ACK, 7, 17, b"", Some(NS_MS / 20))
            .send(220 * NS_MS, true, data, 17, 7, b"ligne 2\nligne 3\n", d);
        let c = connections(&s.sources()).remove(0);
        let mut out = String::new();
        draw(&mut out, &ctx(), &[(0, &c)], 1);
        let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
        let group = |k: usize| {
            let seg = c
                .segments
                .iter()
                .position(|g| g.start() == k as Ns * NS_MS)
                .unwrap();
            doc.descendants()
                .find(|n| n.attribute("data-i") == Some(&(seg + 1).to_string()))
                .unwrap()
        };
        let line = |g: roxmltree::Node| {
            let l = g
                .descendants()
                .find(|n| n.attribute("class") == Some("seg"))
                .unwrap();
            let n = |k: &str| l.attribute(k).unwrap().parse::<f64>().unwrap();
            ((n("x1"), n("y1")), (n("x2"), n("y2")))
        };
        let (((ax, ay), (bx, by)), ((_, ack_y), _)) = (line(group(220)), line(group(300)));
        // Where the flat ACK crosses the slanted arrow, as a fraction of its length.
        let cross = (ack_y - ay) / (by - ay);
        // (The ACK leaves below the arrowhead of the first line: a little lower than at 40 %.)
        assert!((0.3..0.6).contains(&cross), "the ACK crosses at {cross}");
        let moved = group(220)
            .descendants()
            .find_map(|n| n.attribute("transform"))
            .unwrap();
        let xy: Vec<f64> = moved["translate(".len()..moved.find(')').unwrap()]
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        let at = (xy[0] - ax) / (bx - ax);
        // The data line is the label's widest: "ligne 2\nligne 3\n" in quotes, 20 characters.
        let half = 20.0 * 7.8 / 2.0 / (bx - ax).hypot(by - ay);
        assert!(
            (at - cross).abs() > half,
            "the label ({at:.2} ± {half:.2} of the arrow) is clear of the ACK ({cross:.2})"
        );
    }

    #[test]
    fn a_burst_pulled_apart_by_a_break_does_not_stretch_tiny_delays_into_slants() {
        let mut s = talk();
        let us = NS_MS / 1000;
        s.send(30 * NS_MS, false, Flags::ACK, 7, 9, b"", Some(30 * us))
            .send(
                30 * NS_MS + 50 * us,
                false,
                Flags::PSH | Flags::ACK,
                7,
                9,
                b"x",
                Some(30 * us),
            );
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None, &PAGE, 1.0);
        let (a, b) = (segs[7], segs[8]);
        assert!(
            map.y(b.start()) - map.y(a.start()) >= PAGE.gap_data,
            "spread out"
        );
        for s in [a, b] {
            let slant = map.y_end(s.start(), s.end().unwrap()) - map.y(s.start());
            assert!((0.0..1.0).contains(&slant), "30 µs is flat: {slant} px");
        }
        // The space added is a break, drawn: from where 50 µs puts it to where it is drawn.
        let (from, to) = *map.breaks.last().unwrap();
        assert!((to - map.y(b.start())).abs() < 0.01, "{from} {to}");
        assert!(from - map.y(a.start()) < 1.0, "{from}");
    }

    #[test]
    fn time_is_proportional_outside_breaks_and_folds() {
        // talk(): departures far enough apart for their labels are drawn at one scale.
        let c = connections(&talk().sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None, &PAGE, 1.0);
        let mut starts: Vec<Ns> = segs.iter().map(|s| s.start()).collect();
        starts.dedup();
        let mut breaks = map.breaks.iter();
        for w in starts.windows(2) {
            let (dy, dt) = (map.y(w[1]) - map.y(w[0]), (w[1] - w[0]) as f64);
            if (dy - dt * map.scale).abs() > 0.01 {
                // Only where a break was added, by the break's height.
                let (a, b) = breaks.next().expect("a break where the scale is not kept");
                assert!((dy - dt * map.scale - (b - a)).abs() < 0.01, "{dy} {dt}");
            }
        }
    }

    #[test]
    fn a_departure_leaves_below_the_arrowhead_that_lands_where_it_starts() {
        // The client's SYN takes 200 ms; the server answers the moment it arrives.
        let mut s = Script::new();
        let d = Some(200 * NS_MS);
        s.send(0, true, Flags::SYN, 0, 0, b"", d).send(
            200 * NS_MS,
            false,
            Flags::SYN | Flags::ACK,
            0,
            1,
            b"",
            Some(NS_MS / 10),
        );
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None, &PAGE, 1.0);
        let head = map.y_end(0, 200 * NS_MS);
        let leaves = map.y(200 * NS_MS);
        assert!(leaves - head >= PAGE.head_gap - 0.01, "{head} {leaves}");
        assert_eq!(map.breaks.len(), 1);
    }

    #[test]
    fn the_legend_lists_what_the_drawing_uses_and_a_slide_is_16_9_in_big_letters() {
        let c = connections(&talk().sources()).remove(0);
        for look in [Look::Page, Look::Slide] {
            let mut out = String::new();
            draw_as(&mut out, &ctx(), &[(0, &c)], 1, look);
            let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
            let legend = doc
                .descendants()
                .find(|n| n.attribute("class") == Some("legend"))
                .unwrap();
            let words: String = legend.descendants().filter_map(|n| n.text()).collect();
            for absent in ["RST", "retransmission", "dup"] {
                assert!(!words.contains(absent), "{absent} in {words}");
            }
            assert!(
                words.contains("data") && words.contains("SYN / FIN"),
                "{words}"
            );
            let root = doc.root_element();
            if look == Look::Slide {
                assert_eq!(root.attribute("viewBox"), Some("0 0 1920 1080"));
                for n in doc.descendants().filter(|n| n.has_tag_name("text")) {
                    let size: f64 = n.attribute("font-size").unwrap().parse().unwrap();
                    assert!(size >= 18.0, "{size} px: {:?}", n.text());
                }
            }
        }
    }

    #[test]
    fn the_svg_is_well_formed_xml_whose_arrows_labels_and_states_match_the_segments() {
        let mut s = talk_then(30 * NS_MS, b"<perdu> & \x1b", None);
        s.send(40 * NS_MS, false, Flags::ACK, 7, 9, b"", Some(NS_MS));
        let c = connections(&s.sources()).remove(0);
        let mut out = String::new();
        draw(&mut out, &ctx(), &[(0, &c)], 1);
        let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
        let class = |n: &roxmltree::Node, k: &str| n.attribute("class") == Some(k);
        let arrows: Vec<_> = doc.descendants().filter(|n| class(n, "seg")).collect();
        assert_eq!(arrows.len(), c.segments.len());
        let labels: Vec<String> = doc
            .descendants()
            .filter(|n| class(n, "label"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect();
        assert_eq!(labels.len(), c.segments.len());
        for (seg, label) in c.segments.iter().zip(&labels) {
            assert!(label.starts_with(&crate::ladder::label(&c, seg)), "{label}");
        }
        assert!(
            labels[7].ends_with("lost"),
            "{labels:?} {:?}",
            c.segments[7]
        );
        let data: Vec<String> = doc
            .descendants()
            .filter(|n| class(n, "data"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect();
        assert_eq!(data, ["\"bonjour\\n\"", "\"salut\\n\"", "\"<perdu> & ^[\""]);
        // Client → server arrows go right and slant down by their delay; the lost one is flat
        // and stops before the server's line.
        for (seg, a) in c.segments.iter().zip(&arrows) {
            let n = |k: &str| a.attribute(k).unwrap().parse::<f64>().unwrap();
            let (x1, y1, x2, y2) = (n("x1"), n("y1"), n("x2"), n("y2"));
            assert_eq!(x1 < x2, seg.from == 0);
            if seg.fate == Fate::Lost {
                assert!(y1 == y2 && x2 < PAGE.xr);
            } else {
                assert!(y2 > y1, "a 1 ms delay slants");
            }
        }
        // Each segment's drawing is one group, numbered in order, naming its sender; each
        // state is marked with its side (what the view's replay and the sheets' tests read).
        let groups: Vec<_> = doc.descendants().filter(|n| class(n, "segment")).collect();
        assert_eq!(groups.len(), c.segments.len());
        for (k, (g, seg)) in groups.iter().zip(&c.segments).enumerate() {
            assert_eq!(g.attribute("data-i"), Some((k + 1).to_string().as_str()));
            let from = if seg.from == 0 { "client" } else { "server" };
            assert_eq!(g.attribute("data-from"), Some(from));
            assert_eq!(g.descendants().filter(|n| class(n, "seg")).count(), 1);
        }
        let states: Vec<(&str, &str)> = doc
            .descendants()
            .filter(|n| class(n, "state"))
            .map(|n| (n.attribute("data-side").unwrap(), n.text().unwrap()))
            .collect();
        assert_eq!(states[0], ("0", "CLOSED"), "{states:?}");
        // A change names the segment that made it: the client's SYN makes it SYN_SENT.
        let syn_sent = doc
            .descendants()
            .find(|n| class(n, "state") && n.text() == Some("SYN_SENT"))
            .unwrap();
        assert_eq!(syn_sent.attribute("data-seg"), Some("1"));
        assert!(states.contains(&("1", "LISTEN")), "{states:?}");
        assert!(states.contains(&("0", "SYN_SENT")), "{states:?}");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for st in ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"] {
            assert!(texts.contains(&st), "{st}");
        }
    }
}
