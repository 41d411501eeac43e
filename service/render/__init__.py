"""render: the mail a reader sees. Plain paper data becomes view values (cleaned text, safe
links, highlighted matched words, the text part wrapped at 78 columns), Jinja renders them
(HTML with the stylesheet inlined when templates load, text, subject), and the checks of
RELIABILITY.md D08 and D13-D16 tell whether the HTML may be sent."""
