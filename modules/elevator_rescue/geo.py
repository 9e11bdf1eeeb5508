"""Positions sent by phones: stored in WGS-84.

A browser's geolocation gives WGS-84; the positions of WeChat's JS-SDK
(`type: 'gcj02'`) and of AMap come in GCJ-02, the offset datum that maps
in China must use; `prcoords` (public domain, an iterative inverse
precise to centimetres) converts them back. Distances: the grid's
great-circle `distance_km` (one formula for the platform)."""
import prcoords

from .grid import distance_km

CRS = ('wgs84', 'gcj02')


def to_wgs84(latitude, longitude, crs='wgs84'):
    "(latitude, longitude) in WGS-84 of a position given in crs."
    if crs == 'gcj02':
        coords = prcoords.gcj_wgs_bored((latitude, longitude))
        return coords.lat, coords.lon
    if crs != 'wgs84':
        raise ValueError(crs)
    return latitude, longitude


def distance_m(lat1, lon1, lat2, lon2):
    "Great-circle distance in metres between two WGS-84 positions."
    km = distance_km(lat1, lon1, lat2, lon2)
    return None if km is None else km * 1000
