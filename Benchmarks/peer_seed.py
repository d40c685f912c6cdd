"""Seeds the peer (scim2-server) with N users shaped like ours and prints their ids, comma-separated."""
import json
import sys
import urllib.request

base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ids = []
for i in range(count):
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"user{i}@bench.example.com",
        "externalId": f"ext-{i}",
        "active": True,
        "name": {"givenName": "Bench", "familyName": f"User {i}"},
        "emails": [{"type": "work", "primary": True, "value": f"user{i}@bench.example.com"}],
    }
    request = urllib.request.Request(
        f"{base}/Users",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        method="POST",
    )
    for attempt in range(50):
        try:
            with urllib.request.urlopen(request) as response:
                ids.append(json.load(response)["id"])
            break
        except urllib.error.URLError:
            if attempt == 49:
                raise
            import time
            time.sleep(0.1)  # the peer may still be starting
print(",".join(ids))
