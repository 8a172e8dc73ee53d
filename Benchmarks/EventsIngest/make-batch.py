"""Writes a batch of COUNT events of about SIZE bytes each (a mix of the kinds a server SDK sends)
as one JSON array, and prints its size. Usage: make-batch.py COUNT SIZE OUT"""
import json
import sys

count, size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
events = []
for i in range(count):
    if i % 10 == 9:
        event = {"kind": "custom", "creationDate": 1700000000000 + i, "key": "checkout-completed",
                 "context": {"kind": "user", "key": "user-%06d" % i}, "metricValue": 42.5}
    else:
        event = {"kind": "feature", "creationDate": 1700000000000 + i, "key": "new-checkout-flow", "value": True,
                 "default": False, "version": 12, "variation": 1,
                 "context": {"kind": "user", "key": "user-%06d" % i, "plan": "gold"}}
    text = json.dumps(event, separators=(",", ":"))
    # Pad with a context attribute to the target size.
    pad = size - len(text) - len(',"name":""')
    if pad > 0:
        event["context"]["name"] = "x" * pad
    events.append(event)
data = json.dumps(events, separators=(",", ":")).encode()
with open(out, "wb") as f:
    f.write(data)
print(len(data))
