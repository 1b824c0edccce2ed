# tcpview.awk — turn `tcpdump -n -tt -x` output into one readable line per segment:
#
#   0.000000  client:40000 → server:8080  SYN          seq 1585184738, win 64240
#   1.203517  client:40000 → server:8080  PSH ACK      seq 1:9, ack 1, 8 bytes  "bonjour\n"
#
# time since the first packet, direction with the lab's host names, TCP flags in words, the
# payload as text (\n \r \t and other control bytes escaped, UTF-8 kept). Used by lab/capture;
# portable awk (mawk, gawk, busybox), run with LC_ALL=C so that bytes stay bytes (and, for
# mawk, with -W interactive, or it reads its input in big blocks and the view lags).
#
# Variables (-v): net=10.80.80 (the lab's subnet prefix), sumfile=PATH (write "PACKETS BYTES"
# there at the end), max=160 (payload bytes shown per segment), who=HOST (start each line with
# the name of the host that saw it, when several hosts are captured at once), t0=SECONDS
# (the origin of times, shared by the views of several hosts; default: the first packet).

BEGIN {
  if (net == "") net = "10.80.80"
  if (max == "") max = 160
  name[net ".10"] = "server"
  name[net ".11"] = "client"
  name[net ".12"] = "client2"
  for (i = 0; i < 256; i++) hexval[sprintf("%02x", i)] = i
  word["S"] = "SYN"; word["F"] = "FIN"; word["P"] = "PSH"; word["R"] = "RST"
  word["U"] = "URG"; word["E"] = "ECE"; word["W"] = "CWR"; word["."] = "ACK"
  packets = 0; data = 0; pending = 0
  pre = who == "" ? "" : sprintf("%-8s", who)
}

# A hex line of the current packet: "\t0x0010:  0a50 500a 9c40 1f90 ...".
/^[ \t]+0x[0-9a-f]+:/ {
  if (!pending || !tcp) next
  for (i = 2; i <= NF; i++) {
    if ($i !~ /^[0-9a-f]+$/ || length($i) > 4) break
    hex = hex $i
  }
  # The whole IP packet is here (its total length is in bytes 2-3): show it now, not when
  # the next packet comes, so that the live view keeps up.
  if (length(hex) >= 8 && length(hex) >= 2 * (hexval[substr(hex, 5, 2)] * 256 + hexval[substr(hex, 7, 2)]))
    flush()
  next
}

# Anything else starts a new packet (or is a line tcpdump prints as is).
{
  flush()
  if ($1 ~ /^[0-9]+\.[0-9]+$/) {
    start_packet()
  } else {
    print pre $0
  }
}

END {
  flush()
  if (sumfile != "") print packets, data > sumfile
}

function start_packet(   t, rest, proto, src, dst, flags, f, i, seqack, n) {
  t = $1 + 0
  if (packets == 0 && t0 == "") t0 = t
  packets++
  rel = sprintf("%10.6f", t - t0)
  # Skip "eth0 In" that -i any adds: the protocol is the first field that is IP or IP6.
  for (i = 2; i <= NF && $i != "IP" && $i != "IP6"; i++) ;
  if (i > NF || $i == "IP6" || $0 !~ / Flags \[/) {
    # Not IPv4 TCP: tcpdump's own line, after our time.
    rest = $0
    sub(/^[0-9.]+ /, "", rest)
    print pre rel "  " names(rest)
    fflush()
    tcp = 0
    return
  }
  src = host($(i + 1)); dst = $(i + 3); sub(/:$/, "", dst); dst = host(dst)
  flags = $0; sub(/.* Flags \[/, "", flags); sub(/\].*/, "", flags)
  f = ""
  for (n = 1; n <= length(flags); n++) f = f (f == "" ? "" : " ") word[substr(flags, n, 1)]
  # seq, ack, win as tcpdump gives them (relative after the handshake).
  seqack = ""
  if (match($0, /, seq [0-9:]+/)) seqack = substr($0, RSTART + 2, RLENGTH - 2)
  if (match($0, /, ack [0-9]+/)) seqack = seqack (seqack == "" ? "" : ", ") substr($0, RSTART + 2, RLENGTH - 2)
  if (flags ~ /S/ && match($0, /, win [0-9]+/)) seqack = seqack ", " substr($0, RSTART + 2, RLENGTH - 2)
  paylen = 0
  if (match($0, /, length [0-9]+/)) paylen = substr($0, RSTART + 9, RLENGTH - 9) + 0
  line = sprintf("%s  %-23s  %-11s  %s", rel, src " → " dst, f, seqack)
  pending = 1; tcp = 1; hex = ""
}

# The lab's addresses in a line of tcpdump replaced by the hosts' names (ping, ARP…).
function names(s,   ip, out, rest, at, after) {
  for (ip in name) {
    out = ""; rest = s
    while ((at = index(rest, ip)) > 0) {
      after = substr(rest, at + length(ip), 1)
      if (after ~ /[0-9]/) { out = out substr(rest, 1, at + length(ip) - 1) }
      else { out = out substr(rest, 1, at - 1) name[ip] }
      rest = substr(rest, at + length(ip))
    }
    s = out rest
  }
  return s
}

# The lab's name for an "a.b.c.d.port" address, keeping the port: client:40000.
function host(a,   ip, port) {
  ip = a; sub(/\.[0-9]+$/, "", ip)
  port = a; sub(/.*\./, "", port)
  return ((ip in name) ? name[ip] : ip) ":" port
}

function flush(   ihl, doff, off, text) {
  if (!pending) return
  pending = 0
  if (tcp && paylen > 0) {
    data += paylen
    line = line sprintf(", %d byte%s", paylen, paylen == 1 ? "" : "s")
    # IP header length (IHL), then TCP data offset: the payload starts after both.
    ihl = (hexval["0" substr(hex, 2, 1)]) * 4
    off = ihl * 2 + 24 + 1
    doff = int(hexval[substr(hex, off, 1) "0"] / 16) * 4
    text = payload(substr(hex, (ihl + doff) * 2 + 1, paylen * 2))
    line = line "  \"" text "\"" (trunc ? sprintf(" … (+%d bytes)", trunc) : "")
  }
  print pre line
  fflush()
}

# Hex bytes → text: printable ASCII as is; \n \r \t \" \\; other control bytes as \xNN;
# well-formed UTF-8 sequences kept (except C1 controls), anything else as \xNN.
function payload(h,   n, i, b, out, need, j, c, seq, ok) {
  n = int(length(h) / 2)
  out = ""
  for (i = 1; i <= n && i <= max; i++) {
    b = hexval[substr(h, 2 * i - 1, 2)]
    if (b == 10) out = out "\\n"
    else if (b == 13) out = out "\\r"
    else if (b == 9) out = out "\\t"
    else if (b == 34) out = out "\\\""
    else if (b == 92) out = out "\\\\"
    else if (b >= 32 && b < 127) out = out sprintf("%c", b)
    else if (b >= 194 && b <= 244) {
      need = b >= 240 ? 3 : (b >= 224 ? 2 : 1)
      ok = (i + need <= n)
      seq = sprintf("%c", b)
      for (j = 1; ok && j <= need; j++) {
        c = hexval[substr(h, 2 * (i + j) - 1, 2)]
        if (c < 128 || c > 191) ok = 0
        seq = seq sprintf("%c", c)
      }
      # C2 80..C2 9F encode the C1 controls: escape them like the other control bytes.
      if (ok && b == 194 && hexval[substr(h, 2 * i + 1, 2)] < 160) ok = 0
      if (ok) { out = out seq; i += need }
      else out = out sprintf("\\x%02x", b)
    }
    else out = out sprintf("\\x%02x", b)
  }
  trunc = n > max ? n - max : 0
  return out
}
