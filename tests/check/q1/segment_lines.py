# Mistake: one recv() taken for one line: print(chunk.strip()). A line cut in two segments
# comes out as two lines.
# expect: segments=fail next-client=warn
import codecs, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
dec = codecs.getincrementaldecoder("utf-8")()
while True:
    data = c.recv(1024)
    if not data:
        break
    print(dec.decode(data).strip())
