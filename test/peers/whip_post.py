# The WHIP POST (RFC 9725 §4.2) the Python test peers share: the offer in, (status, body,
# Location) out; HTTP errors come back as their status and body, not as an exception.
import urllib.error
import urllib.request


def post_offer(url, sdp):
    req = urllib.request.Request(url, data=sdp.encode(), method='POST', headers={'Content-Type': 'application/sdp'})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get('Location')
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), None
