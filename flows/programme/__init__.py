"""The programme around the team's loop (the Copenhagen model's *forløb*): a team's course
of three dialogue meetings after a kick-off (``course``, with what it shows in
``course_views``), and the site's leadership track (``leadership``)."""
