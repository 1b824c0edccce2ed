//! Every word the SVG writes, in French and in English: one table per language.

use crate::lang::Lang;

pub struct Words {
    pub connection: &'static str,
    pub legend: &'static str,
    pub colon: &'static str,
    pub semicolon: &'static str,
    pub and: &'static str,
    pub data: &'static str,
    pub pure_ack: &'static str,
    pub syn_fin: &'static str,
    pub rst: &'static str,
    pub retrans: &'static str,
    pub dup: &'static str,
    pub lost: &'static str,
    pub held: &'static str,
    /// After a segment's label.
    pub tag_retrans: &'static str,
    pub tag_dup: &'static str,
    pub tag_lost: &'static str,
    pub tag_dropped: &'static str,
    /// A folded pause: « 487 ms » then this.
    pub folded: &'static str,
    /// Segments left out: « 9 412 segments » IN « 2.0 s » then NOT_SHOWN.
    pub in_: &'static str,
    pub not_shown: &'static str,
    /// Segments past --max: « … 12 segments » then this.
    pub not_drawn: &'static str,
    /// The time rule, in parts: always, where arrows were pulled apart, where pauses fold.
    pub rule: &'static str,
    pub rule_breaks: &'static str,
    pub rule_folds: &'static str,
    pub rule_fold_band: &'static str,
    pub one_end: &'static str,
    /// Where the departures come from.
    pub departures: &'static str,
    pub from_record: &'static str,
    pub from_capture: &'static str,
    /// The same, for both hosts at once.
    pub from_captures: &'static str,
    pub from_unknown: &'static str,
    pub not_captured: &'static str,
}

pub const FR: Words = Words {
    connection: "Connexion",
    legend: "Légende",
    colon: " :",
    semicolon: " ;",
    and: "et",
    data: "données",
    pure_ack: "ACK seul",
    syn_fin: "SYN / FIN",
    rst: "RST",
    retrans: "retransmission",
    dup: "ACK dupliqué",
    lost: "perdu ou jeté : n'arrive jamais (✕)",
    held: "attente dans le netem de l'émetteur (de l'envoi par TCP à la sortie vue par tcpdump)",
    tag_retrans: " · retransmis",
    tag_dup: " · ACK dupliqué",
    tag_lost: " · perdu",
    tag_dropped: " · jeté par netem",
    folded: "sans rien (replié)",
    in_: "en",
    not_shown: "non montrés (seuls le début et les derniers sont gardés)",
    not_drawn: "de plus ne sont pas dessinés (--max, --conn)",
    rule: "La hauteur est proportionnelle au temps (échelle à gauche)",
    rule_breaks: ", sauf où l'échelle est en zigzag : là, des flèches trop proches sont écartées sans que le temps passe",
    rule_folds: " ; une pause de plus de",
    rule_fold_band: "est repliée (bande grise)",
    one_end: "○ : un seul bout capturé, la flèche est à plat au moment vu (délai inconnu).",
    departures: "Départs",
    from_record: "entrée dans son netem (enregistrée), la pente est le vrai délai aller",
    from_capture: "sa capture, après netem (un délai netem y paraît en envoi tardif)",
    from_captures: "leur capture, après netem (un délai netem y paraît en envoi tardif, pas en pente)",
    from_unknown: "capture d'un hôte inconnu (nommez-la …-client.pcap ou …-server.pcap)",
    not_captured: "non capturé",
};

pub const EN: Words = Words {
    connection: "Connection",
    legend: "Legend",
    colon: ":",
    semicolon: ";",
    and: "and",
    data: "data",
    pure_ack: "pure ACK",
    syn_fin: "SYN / FIN",
    rst: "RST",
    retrans: "retransmission",
    dup: "duplicate ACK",
    lost: "lost or dropped: never arrives (✕)",
    held: "waiting in the sender's netem (from TCP sending it to tcpdump seeing it leave)",
    tag_retrans: " · retransmission",
    tag_dup: " · dup ACK",
    tag_lost: " · lost",
    tag_dropped: " · dropped by netem",
    folded: "of nothing (folded)",
    in_: "in",
    not_shown: "not shown (only the start and the latest are kept)",
    not_drawn: "more are not drawn (--max, --conn)",
    rule: "Height is proportional to time (scale on the left)",
    rule_breaks: ", except where the scale zigzags: there, arrows too close together are pulled apart and no time passes",
    rule_folds: "; a pause longer than",
    rule_fold_band: "is folded (grey band)",
    one_end: "○: one end only was captured, the arrow is flat at the time seen (delay unknown).",
    departures: "Departures",
    from_record: "entry into its netem (recorded), the slant is the one-way delay",
    from_capture: "its capture, after netem (a netem delay shows as a late send)",
    from_captures: "their capture, after netem (a netem delay shows as a late send, not a slant)",
    from_unknown: "captured by an unknown host (name the file …-client.pcap or …-server.pcap)",
    not_captured: "not captured",
};

pub fn words(l: Lang) -> &'static Words {
    match l {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}
