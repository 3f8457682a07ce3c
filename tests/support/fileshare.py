"""Helpers of the file share tests."""

# Run in a share sidecar (`python -c`): kill the relay's upstream processes, which cuts the exec
# stream from the caller as a network failure would; prints how many there were.
KILL_UPSTREAMS = """import os, signal
pids = [p for p in os.listdir('/proc') if p.isdigit()
        and b'relay\\0upstream' in open(f'/proc/{p}/cmdline', 'rb').read()]
for pid in pids:
    os.kill(int(pid), signal.SIGKILL)
print(len(pids))"""
