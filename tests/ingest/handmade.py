"""Hand-made payloads for shapes FORMATS.md describes that the stored samples do not show:
the 2026 HF era, the legacy arXiv API layout, the API's error and empty feeds, the Atom
announcement feed, the old RSS 1.0 feeds, and hostile XML."""

from __future__ import annotations

import json
from typing import Any


def hf_2026_item(arxiv_id: str = "2608.18565", **paper: Any) -> dict[str, Any]:
    user = {"_id": "6a8419d70147838abe580dea", "avatarUrl": "https://cdn-avatars.huggingface.co/x.png",
            "fullname": "Allen", "user": "Allenyltu", "name": "Allenyltu", "type": "user",
            "isPro": False}  # fmt: skip
    org = {"_id": "6a1", "name": "Midea-AIRC", "fullname": "Midea AI Research Center",
           "avatar": "https://cdn-avatars.huggingface.co/org.png"}  # fmt: skip
    body: dict[str, Any] = {
        "id": arxiv_id,
        "authors": [
            {
                "_id": "6a866443db13816030683e84",
                "name": "Yanlun Tu",
                "hidden": False,
                "user": user,
                "status": "claimed_verified",
                "statusLastChangedAt": "2026-08-19T08:45:04.346Z",
            },
            {"_id": "6a866443db13816030683e85", "name": "Xin Ding", "hidden": False},
        ],
        "publishedAt": "2026-08-19T00:00:00.000Z",
        "submittedOnDailyAt": "2026-08-20T00:00:00.000Z",
        "title": "SemaPLC: Semantic Programmable Logic Controllers & Agents",
        "summary": "We study PLCs. It improves accuracy by 12\\% over e.g.\\ baselines.",
        "upvotes": 0,
        "discussionId": "6a866443db13816030683e91",
        "submittedOnDailyBy": user,
        "githubRepo": "https://github.com/midea-ai/SemaPLC",
        "githubRepoAddedBy": "user",
        "githubStars": 30,
        "ai_summary": "SemaPLC turns PLC programs into semantic graphs.",
        "ai_keywords": ["programmable logic controllers (PLCs)", "SemaPLC"],
        "ai_summary_model": "thinkingmachines/Inkling-Small",
        "organization": org,
    }
    body.update(paper)
    return {
        "paper": body,
        "publishedAt": "2026-08-18T20:00:00.000Z",
        "title": body["title"],
        "summary": body["summary"],
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": 1,
        "submittedBy": {**user, "isHf": False, "isHfAdmin": False, "isMod": False,
                        "isUserFollowing": False, "followerCount": 14},
        "organization": org,
        "isAuthorParticipating": False,
    }  # fmt: skip


def hf_body(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


ARXIV_LEGACY = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3Dcond-mat%2F0603029" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=cond-mat/0603029&amp;start=0&amp;max_results=10</title>
  <id>http://arxiv.org/api/abc</id>
  <updated>2016-10-09T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/cond-mat/0603029v1</id>
    <updated>2006-03-01T21:00:00-05:00</updated>
    <published>2006-03-01T21:00:00-05:00</published>
    <title>From stripe to checkerboard order on the square lattice in the presence
  of quenched disorder</title>
    <summary>  We discuss the effects of quenched disorder on a model of charge density
wave (CDW) ordering on the square lattice. Our model may be applicable to
the cuprate superconductors, where a random electrostatic potential exists.
</summary>
    <author>
      <name>Erica W. Carlson</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">Purdue University</arxiv:affiliation>
    </author>
    <author>
      <name>Dirk W\xc3\xbcbben</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">Ohio State</arxiv:affiliation>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">UCLA</arxiv:affiliation>
    </author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1103/PhysRevB.73.184522</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.1103/PhysRevB.73.184522" rel="related"/>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">4 pages, 3 figures</arxiv:comment>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">Phys. Rev. B 73, 184522 (2006)</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/cond-mat/0603029v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/cond-mat/0603029v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cond-mat.str-el" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cond-mat.str-el" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cond-mat.supr-con" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
"""


def arxiv_feed(*entries: str, total: int | None = None) -> bytes:
    count = len(entries) if total is None else total
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/api/x</id><title>arXiv Query</title>\n"
        f"  <opensearch:totalResults>{count}</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n" + "".join(entries) + "</feed>\n"
    ).encode()


def arxiv_entry(
    arxiv_id: str,
    *,
    title: str = "A paper",
    published: str = "2026-11-20T10:00:00Z",
    categories: tuple[str, ...] = ("cs.LG",),
    comment: str | None = None,
    summary: str = "An abstract.",
    affiliation: str | None = None,
) -> str:
    cats = "".join(
        f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories
    )
    extra = f"<arxiv:comment>{comment}</arxiv:comment>" if comment else ""
    aff = f"<arxiv:affiliation>{affiliation}</arxiv:affiliation>" if affiliation else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>{title}</title>"
        f"<updated>{published}</updated><summary>{summary}</summary>{cats}"
        f"<published>{published}</published>{extra}"
        f'<arxiv:primary_category term="{categories[0]}"/>'
        f"<author><name>Ada Lovelace</name>{aff}</author></entry>\n"
    )


ARXIV_EMPTY = arxiv_feed(total=0)

ARXIV_ERROR = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/</id>
  <title>arXiv Search Results</title>
  <updated>2026-04-12T00:00:00Z</updated>
  <entry>
    <id>https://arxiv.org/api/errors#incorrect_id_format_for_abc</id>
    <title>Error</title>
    <summary>incorrect id format for abc</summary>
    <updated>2026-04-12T00:00:00Z</updated>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""

ATOM_ANNOUNCEMENTS = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/cs.LG</id>
  <title>cs.LG updates on arXiv.org</title>
  <updated>2026-09-25T04:00:11.600500+00:00</updated>
  <link href="http://rss.arxiv.org/atom/cs.LG" rel="self" type="application/atom+xml"/>
  <subtitle>cs.LG updates on the arXiv.org e-print archive.</subtitle>
  <entry>
    <id>oai:arXiv.org:2609.28553v1</id>
    <title>Sparse Mixtures That Route Themselves</title>
    <updated>2026-09-25T04:00:11.600500+00:00</updated>
    <link href="https://arxiv.org/abs/2609.28553" rel="alternate" type="text/html"/>
    <summary>arXiv:2609.28553v1 Announce Type: new&#32;
Abstract: We route tokens   without a router.</summary>
    <category term="cs.LG"/>
    <category term="cs.AI"/>
    <published>2026-09-25T00:00:00-04:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
    <arxiv:journal_reference>NeurIPS 2026</arxiv:journal_reference>
    <arxiv:DOI>10.1000/xyz123</arxiv:DOI>
    <dc:creator>Ada Lovelace, Alan Turing, and Grace Hopper</dc:creator>
  </entry>
  <entry>
    <id>oai:arXiv.org:2401.01234v4</id>
    <title>An Old Paper, Replaced</title>
    <updated>2026-09-25T04:00:11.600500+00:00</updated>
    <link href="https://arxiv.org/abs/2401.01234" rel="alternate" type="text/html"/>
    <summary>arXiv:2401.01234v4 Announce Type: replace-cross&#32;
Abstract: A better abstract.</summary>
    <category term="stat.ML"/>
    <published>2026-09-25T00:00:00-04:00</published>
    <arxiv:announce_type>replace-cross</arxiv:announce_type>
    <dc:creator>Emmy Noether</dc:creator>
  </entry>
</feed>
"""

RSS_EMPTY = b"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates on the arXiv.org e-print archive.</description>
    <lastBuildDate>Sat, 26 Sep 2026 04:00:00 +0000</lastBuildDate>
    <pubDate>Sat, 26 Sep 2026 00:00:00 -0400</pubDate>
    <skipDays><day>Sunday</day><day>Saturday</day></skipDays>
  </channel>
</rss>
"""

RSS_1_0 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://arxiv.org/"><title>cs.LG updates on arXiv.org</title></channel>
<item rdf:about="http://arxiv.org/abs/2301.00001">
<title>Deep Nets, Shallow Thoughts. (arXiv:2301.00001v1 [cs.LG])</title>
<link>http://arxiv.org/abs/2301.00001</link>
<description rdf:parseType="Literal">&lt;p&gt;We show that deep nets &amp;amp; friends think shallowly.&lt;/p&gt;</description>
<dc:creator> &lt;a href="http://arxiv.org/find/cs/1/au:+Smith_J/0/1/0/all/0/1"&gt;Jane Smith&lt;/a&gt;, &lt;a href="http://arxiv.org/find/cs/1/au:+Doe_J/0/1/0/all/0/1"&gt;John Doe&lt;/a&gt;</dc:creator>
</item>
<item rdf:about="http://arxiv.org/abs/2212.09999">
<title>Something Updated. (arXiv:2212.09999v3 [cs.LG] UPDATED)</title>
<link>http://arxiv.org/abs/2212.09999</link>
<description rdf:parseType="Literal">&lt;p&gt;Revised.&lt;/p&gt;</description>
<dc:creator>Jane Smith</dc:creator>
</item>
</rdf:RDF>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001</id><title>&lol4;</title></entry></feed>
"""

UNDECLARED_ENTITY = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001</id><title>&nbsp;Hi</title></entry></feed>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001</id><title>&secret;</title></entry></feed>
"""
