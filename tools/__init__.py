"""Development tools of the project: the staff app tour that checks the newcomer flow and
takes the README's screenshots."""
