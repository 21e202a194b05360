"""The box's side of the link to the district: second-opinion requests queued in the outbox (one
sender, kind ``district.*``) and the district's answers fetched into the record at each window."""
